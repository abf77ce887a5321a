"""A small notes app: an ordinary Flask application, unaware of pagesfn.

The folder starts with ``_``, so pagesfn does not route it; ``[[default]].py`` imports the
factory and mounts the app it returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import about, notes
from .store import NoteStore


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        # Sessions and flash messages are signed with this key: set DEMO_SECRET_KEY in production.
        SECRET_KEY=os.environ.get("DEMO_SECRET_KEY", "dev-only-not-secret"),
    )
    if config is not None:
        app.config.from_mapping(config)

    app.extensions["notes"] = NoteStore()
    app.register_blueprint(notes.bp)
    app.register_blueprint(about.bp)
    return app

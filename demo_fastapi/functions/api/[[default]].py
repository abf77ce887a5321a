"""Mount the todo FastAPI app at ``/api``.

Every request under ``/api`` that no more specific file claims (``health.py`` claims
``/api/health``) goes to this app with ``root_path`` set to ``/api``: its routes are written
as if it ran at ``/``, and the docs at ``/api/docs`` load ``/api/openapi.json``.
"""

from ._todo import create_app

app = create_app()

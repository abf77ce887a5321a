"""Mount the notes Flask app at ``/flask``.

Every request under ``/flask`` that no more specific file claims (``health.py`` claims
``/flask/health``) goes to this app, with ``SCRIPT_NAME`` set to ``/flask``: the app is written
as if it ran at ``/``, and ``url_for`` and redirects still point under ``/flask``.
"""

from ._notes import create_app

app = create_app()

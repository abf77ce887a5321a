"""The demo tree as an ASGI app (``app``) and a WSGI app (``wsgi``).

pagesfn dev demo_flask
python -m uvicorn --app-dir demo_flask app:app --port 8788
gunicorn --chdir demo_flask app:wsgi
"""

from __future__ import annotations

from pathlib import Path

from pagesfn import Pages

HERE = Path(__file__).parent

app = Pages(HERE / "functions", public=HERE / "public", debug=True)
wsgi = app.wsgi

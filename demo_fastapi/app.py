"""The FastAPI demo tree as an ASGI app (``app``) and a WSGI app (``wsgi``).

python -m pagesfn dev demo_fastapi
python -m uvicorn --app-dir demo_fastapi app:app --port 8788
gunicorn --chdir demo_fastapi app:wsgi
"""

from __future__ import annotations

from pathlib import Path

from pagesfn import Pages

app = Pages(Path(__file__).parent / "functions", debug=True)
wsgi = app.wsgi

"""The demo tree as an ASGI app.

pagesfn dev demo_realtime
python -m uvicorn --app-dir demo_realtime app:app --port 8788

The chat needs the ASGI face (the WSGI face refuses a WebSocket handshake with 403), so
this demo has no `wsgi` beside `app`.
"""

from __future__ import annotations

from pathlib import Path

from pagesfn import Pages

HERE = Path(__file__).parent

app = Pages(HERE / "functions", public=HERE / "public", debug=True)

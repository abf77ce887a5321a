from pagesfn import Response

PAGE = """<!doctype html>
<title>pagesfn + FastAPI demo</title>
<h1>pagesfn + FastAPI demo</h1>
<p>One functions tree: a FastAPI app, a Flask app and plain route files, served together.</p>
<h2>A FastAPI app mounted at /api</h2>
<ul>
  <li><a href="/api/docs">/api/docs</a>: interactive docs (try the todo endpoints here)</li>
  <li><a href="/api/redoc">/api/redoc</a>: the same API in ReDoc</li>
  <li><a href="/api/openapi.json">/api/openapi.json</a>: the OpenAPI schema</li>
  <li><a href="/api/todos">/api/todos</a>: the todo list, as JSON</li>
  <li><a href="/api/health">/api/health</a>: a plain route file beside the mount</li>
</ul>
<h2>A Flask app mounted at /legacy</h2>
<ul>
  <li><a href="/legacy/">/legacy/</a>: its home page</li>
  <li><a href="/legacy/status.php">/legacy/status.php</a>: an old URL Flask redirects</li>
</ul>
"""


def on_request_get(context):
    return Response(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

from pagesfn import Response

PAGE = """<!doctype html>
<title>pagesfn demo</title>
<h1>pagesfn demo</h1>
<h2>Plain route files</h2>
<ul>
  <li><a href="/hello-pages">/hello-pages</a></li>
  <li><a href="/api/users/1024">/api/users/1024</a></li>
  <li><a href="/api/visit">/api/visit</a></li>
  <li><a href="/api/books/list">/api/books/list</a> (catch-all)</li>
</ul>
<h2>A Flask app mounted at /flask</h2>
<ul>
  <li><a href="/flask/">/flask/</a>: the notes app (forms, sessions, flash messages)</li>
  <li><a href="/flask/about/">/flask/about/</a>: the URLs Flask builds under the mount</li>
  <li><a href="/flask/health">/flask/health</a>: a plain route file beside the mount</li>
</ul>
"""


def on_request_get(context):
    return Response(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

from pagesfn import Response

PAGE = """<!doctype html>
<title>pagesfn demo</title>
<link rel="stylesheet" href="/css/site.css">
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
<h2>Static files from public/</h2>
<ul>
  <li><a href="/css/site.css">/css/site.css</a> and <a href="/robots.txt">/robots.txt</a></li>
  <li><a href="/no/such/page">/no/such/page</a>: public/404.html, with status 404</li>
</ul>
<p>Every response carries <code>Server-Timing</code> and <code>X-Request-Id</code> headers from
<code>functions/_middleware.py</code>.</p>
"""


def on_request_get(context):
    return Response(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

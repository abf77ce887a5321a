from pagesfn import Response

PAGE = """<!doctype html>
<title>pagesfn demo</title>
<h1>pagesfn demo</h1>
<ul>
  <li><a href="/hello-pages">/hello-pages</a></li>
  <li><a href="/api/users/1024">/api/users/1024</a></li>
  <li><a href="/api/visit">/api/visit</a></li>
  <li><a href="/api/books/list">/api/books/list</a> (catch-all)</li>
</ul>
"""


def on_request_get(context):
    return Response(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

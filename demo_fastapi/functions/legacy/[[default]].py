"""A small Flask app mounted at ``/legacy``, in the same tree as the FastAPI app at ``/api``.

The WSGI app and the ASGI app are served side by side on both faces: pagesfn bridges each
one to the face it does not natively speak.
"""

from flask import Flask, jsonify, redirect, request, url_for

app = Flask(__name__)

PAGE = """<!doctype html>
<title>Legacy Flask app</title>
<h1>Legacy Flask app</h1>
<p>Still answering under <code>{root}</code> while the new API grows under <code>/api</code>.</p>
<ul>
  <li><a href="{status}">{status}</a>: JSON from Flask</li>
  <li><a href="{old}">{old}</a>: an old URL, redirected by Flask</li>
</ul>
"""


@app.get("/")
def index():
    return PAGE.format(
        root=request.script_root,
        status=url_for("status"),
        old=url_for("old_status"),
    )


@app.get("/status")
def status():
    return jsonify(framework="flask", script_root=request.script_root, path=request.path)


@app.get("/status.php")
def old_status():
    # url_for builds on SCRIPT_NAME, so the redirect stays under the mount: /legacy/status.
    return redirect(url_for("status"), code=301)

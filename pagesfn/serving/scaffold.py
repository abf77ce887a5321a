"""The starter project ``pagesfn init`` writes: a small site that runs, tests and deploys.

``project_files`` renders the files as text; ``init_project`` writes them to a folder and
refuses, before writing anything, when any of them is already there.
"""

from __future__ import annotations

import html
import os
import shlex
from pathlib import Path
from string import Template

from ..errors import PagesError
from ..routing.cloudbase import EXTENDED_CONTEXT_HEADER
from .config import FUNCTIONS_CONFIG_LOG_DIR, load_config


class ScaffoldError(PagesError):
    """The project cannot be written where asked; nothing was written.

    ``paths`` lists what is in the way (empty when the folder itself is the problem).
    """

    code = "scaffold"

    def __init__(self, message: str, paths: tuple[Path, ...] = ()) -> None:
        self.paths = paths
        super().__init__(message)


# The templates use ``string.Template``: ``$name`` is the project's name as typed, ``$title``
# the same name made safe inside HTML and inside a Python string literal.

_INDEX_PY = '''\
from pagesfn import Response

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>$title</title>
<h1>$title</h1>
<p>This page is <code>functions/index.py</code>. Try:</p>
<ul>
  <li><a href="/api/hello?name=Ada">/api/hello?name=Ada</a></li>
  <li><a href="/api/users/1024">/api/users/1024</a></li>
  <li><a href="/about">/about</a> and <a href="/index.html">the static page</a>,
    files in <code>public/</code></li>
</ul>
"""


def on_request_get(context):
    return Response(PAGE, mimetype="text/html")
'''

_HELLO_PY = """\
async def on_request_get(context):
    greeting = context.env.get("GREETING", "Hello")  # set it in .env
    name = context.request.args.get("name", "world")
    return {"message": f"{greeting}, {name}!"}  # a dict is sent as JSON


async def on_request_post(context):
    data = await context.request.json()  # a body that is not JSON answers 400
    return {"received": data}
"""

_USER_PY = """\
from pagesfn import Response


async def on_request_get(context):
    return {"id": context.params["id"]}  # [id] in the file name: /api/users/1024 gives "1024"


def on_request_delete(context):  # sync handlers work too
    return Response("", status=204)
"""

_MIDDLEWARE_PY = """\
async def on_request(context):
    # Runs in front of everything: routes, files in public/ and 404s alike.
    response = await context.next()
    response.headers["X-Request-Id"] = context.uuid  # the id in pagesfn's log lines
    return response
"""

_INDEX_HTML = """\
<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>$title</title>
<h1>$title</h1>
<p>A static page from <code>public/index.html</code>, served at <code>/index.html</code>:
  <code>/</code> belongs to <code>functions/index.py</code>, since a route wins over a file.</p>
<p><a href="/">Home</a></p>
"""

_ABOUT_HTML = """\
<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>About $title</title>
<h1>About $title</h1>
<p>This is <code>public/about.html</code>, served at <code>/about</code>.</p>
<p><a href="/">Home</a></p>
"""

_NOT_FOUND_HTML = """\
<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Not found</title>
<h1>Not found</h1>
<p>Nothing lives at this address. <a href="/">Home</a></p>
"""

_TEST_APP_PY = '''\
"""The site's tests. pagesfn's pytest plugin builds the app of this project (pytest.ini
names it) and runs each test taking `pages_client` twice: on the ASGI face, as uvicorn
serves it, and on the WSGI face, as gunicorn serves it."""

import pytest


def test_hello(pages_client):
    response = pages_client.get("/api/hello", params={"name": "Ada"})
    assert response.status_code == 200
    assert response.json()["message"].endswith(", Ada!")  # the greeting is GREETING's


def test_hello_echoes_json(pages_client):
    response = pages_client.post("/api/hello", json={"x": 1})
    assert response.json() == {"received": {"x": 1}}


def test_hello_refuses_a_body_that_is_not_json(pages_client):
    response = pages_client.post("/api/hello", content=b"{not json")
    assert response.status_code == 400


def test_user(pages_client):
    assert pages_client.get("/api/users/7").json() == {"id": "7"}
    assert pages_client.delete("/api/users/7").status_code == 204


def test_middleware_adds_request_id(pages_client):
    assert pages_client.get("/api/users/7").headers["X-Request-Id"]


def test_home_page(pages_client):
    response = pages_client.get("/")
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/api/hello" in response.text


def test_static_page(pages_client):
    response = pages_client.get("/about")
    assert response.status_code == 200
    assert "public/about.html" in response.text


def test_not_found_page(pages_client):
    response = pages_client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text


@pytest.mark.pages_face("wsgi")
def test_the_wsgi_face_alone(pages_client):
    # `pages_client.webtest` is WebTest's own client, for what only it does (forms, follow()).
    assert pages_client.webtest.get("/api/users/7").json == {"id": "7"}
'''

_PYTEST_INI = """\
[pytest]
# pagesfn's pytest plugin builds the app of the project in this folder, as `pagesfn serve`
# does (pagesfn.toml, .env); `pages_client` then runs each test on both faces.
pages_project = .
testpaths = tests
"""

_ENV_EXAMPLE = """\
# Copy this file to .env (kept out of git) for local settings: each value lands in
# context.env, e.g. context.env["GREETING"].
GREETING=Hello
"""

_PAGESFN_TOML = """\
# Settings for `pagesfn dev` and `pagesfn serve`; their command-line options override these.
functions = "functions"
public = "public"
port = 8788

# origin = "http://127.0.0.1:5173"  # proxy what nothing here answers, e.g. a front-end dev server
# spa = false                       # true: a missing page serves /index.html
# workers = 2                       # processes `pagesfn serve` runs
# server = "granian"                # Granian instead of uvicorn (pip install 'granian>=2.5')
# env_files = [".env", ".dev.vars"] # read into context.env (these two are the default)

# [limits]                          # what one request may take (0: no limit)
# max-body-size = "6MB"             # 413 past it
# request-timeout = 30              # seconds until the response starts, 504 past it
"""

_README_MD = """\
# $name

A site served by pagesfn: each file under `functions/` answers the URL that matches its
path, and `public/` holds static files.

```
functions/
├── _middleware.py        runs in front of every request (adds X-Request-Id)
├── index.py              → /
└── api/
    ├── hello.py          → /api/hello (GET, and POST with JSON)
    └── users/
        └── [id].py       → /api/users/1024 (GET, DELETE)
public/
├── index.html            → /index.html
├── about.html            → /about
└── 404.html              the page for addresses nothing answers
tests/test_app.py         the tests, each run on both faces (ASGI and WSGI)
pytest.ini                names this project for pagesfn's pytest plugin
.env.example              copy to .env: its values land in context.env
pagesfn.toml              settings for pagesfn dev and pagesfn serve
```

A route file wins over a static file at the same path: `/` is answered by
`functions/index.py`, so `public/index.html` is reached at `/index.html`.

## Run

```bash
python -m pip install /path/to/pagesfn   # its source tree, or a wheel built from it
cp .env.example .env
pagesfn dev                    # http://127.0.0.1:8788, reloads when files change
```

## Test

```bash
python -m pip install pytest webtest
python -m pytest               # each test runs twice: test_hello[asgi], test_hello[wsgi]
pagesfn check                  # import every route module, list every problem
```

## Deploy

```bash
pagesfn serve --workers 2
```
"""

_GITIGNORE = """\
.env
.pagesfn/
__pycache__/
.venv/
"""

# In the order they are written and listed.
_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("functions/index.py", _INDEX_PY),
    ("functions/_middleware.py", _MIDDLEWARE_PY),
    ("functions/api/hello.py", _HELLO_PY),
    ("functions/api/users/[id].py", _USER_PY),
    ("public/index.html", _INDEX_HTML),
    ("public/about.html", _ABOUT_HTML),
    ("public/404.html", _NOT_FOUND_HTML),
    ("tests/test_app.py", _TEST_APP_PY),
    ("pytest.ini", _PYTEST_INI),
    (".env.example", _ENV_EXAMPLE),
    ("pagesfn.toml", _PAGESFN_TOML),
    ("README.md", _README_MD),
    (".gitignore", _GITIGNORE),
)


def project_files(name: str) -> dict[str, str]:
    """The project's files for a project called ``name``: relative POSIX path -> text."""
    values = {"name": name, "title": _title(name)}
    return {path: Template(text).substitute(values) for path, text in _TEMPLATES}


def init_project(directory: str | os.PathLike[str]) -> list[Path]:
    """Write the project into ``directory`` (created if missing); return the paths written.

    Raises ``ScaffoldError`` listing every file in the way, before writing anything.
    """
    root = Path(directory)
    files = project_files(_project_name(root))
    _check_free(root, files)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. a file where one of its parent folders should be
        raise ScaffoldError(f"cannot create {root}: {error.strerror}") from error
    return [_write(root / relative, text) for relative, text in files.items()]


def _title(name: str) -> str:
    # Escaped for HTML; a backslash too, so the name also sits safely in a Python literal.
    return html.escape(name).replace("\\", "&#92;")


def _project_name(root: Path) -> str:
    # ``.`` and ``..`` have no name of their own: use the folder they stand for.
    return Path(os.path.abspath(root)).name or "site"


def _check_free(root: Path, files: dict[str, str]) -> None:
    if os.path.lexists(root) and not root.is_dir():
        raise ScaffoldError(f"{root} exists and is not a folder; nothing was written")
    # A dict keeps the write order and drops a folder reported by several of its files.
    taken = tuple(dict.fromkeys(p for relative in files for p in _in_the_way(root, relative)))
    if taken:
        lines = "\n".join(f"  - {path}" for path in taken)
        raise ScaffoldError(
            f"refusing to overwrite {len(taken)} existing file(s); nothing was written:\n{lines}",
            taken,
        )


def _in_the_way(root: Path, relative: str) -> list[Path]:
    """What already exists where ``relative`` would go: the path itself, or a non-folder
    where one of its folders should be (it would make the write fail half way)."""
    target = root / relative
    # lexists: a dangling symlink counts, since writing would follow it out of the project.
    if os.path.lexists(target):
        return [target]
    parents = [root / part for part in Path(relative).parents if part != Path(".")]
    return [p for p in parents if os.path.lexists(p) and not p.is_dir()]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # "x" never overwrites, even a file that appeared since the check; "\n" on every OS.
    with path.open("x", encoding="utf-8", newline="\n") as file:
        file.write(text)
    return path


#: The port Tencent Cloud's web functions (SCF) send HTTP requests to.
SCF_PORT = 9000

_SCF_BOOTSTRAP = """\
#!/bin/sh
# Tencent Cloud web functions (SCF) run this file to start the function, then send it HTTP
# on port $port. Written by `pagesfn bootstrap scf`; the project is the folder it is in.
# Package the dependencies with the code (pip install -r requirements.txt -t .) or in a
# layer; PAGESFN_PYTHON picks the interpreter (default: python3 on the PATH).
cd "$$(dirname "$$0")" || exit 1
exec "$${PAGESFN_PYTHON:-python3}" -m pagesfn serve . --host 0.0.0.0$flags
"""


def write_scf_bootstrap(
    directory: str | os.PathLike[str],
    *,
    port: int = SCF_PORT,
    config_file: str | None = None,
    functions_config: str | None = None,
    force: bool = False,
) -> Path:
    """Write ``scf_bootstrap`` into the project at ``directory``: an executable script
    serving the project on ``port`` with ``pagesfn serve``. A project routed by a
    ``cloudbase-functions.json`` (``functions_config``, or the project's own when
    ``pagesfn serve`` would route by it) is started with the flags of CloudBase's functions
    framework. Raises
    ``ScaffoldError`` if the folder is missing, or the file exists and ``force`` is not
    given."""
    root = Path(directory)
    if not root.is_dir():
        raise ScaffoldError(f"{root} is not a folder; nothing was written")
    if not 1 <= port <= 65535:
        raise ScaffoldError(f"the port must be from 1 to 65535, not {port}")
    path = root / "scf_bootstrap"
    if os.path.lexists(path) and not force:
        raise ScaffoldError(f"refusing to overwrite {path} (--force replaces it)", (path,))
    config = f" --config {shlex.quote(config_file)}" if config_file else ""
    config_path = root / config_file if config_file else None
    if functions_config is None and (config_path is None or config_path.is_file()):
        # Routed by its cloudbase-functions.json when `pagesfn serve` would route it so.
        found = load_config(root, config_file=config_path).functions_config
        if found is not None:
            functions_config = os.path.relpath(found, root)
    if functions_config:
        # The start-up flags of CloudBase's functions framework, as its documents write
        # them: pagesfn takes them under the same names.
        flags = "".join(
            f" \\\n    {flag}"
            for flag in (
                f"--port={port}",
                f"--logDirname={FUNCTIONS_CONFIG_LOG_DIR}",
                "--interceptOutput=false",
                f"--extendedContextKey={EXTENDED_CONTEXT_HEADER}",
                f"--functionsConfigFile={shlex.quote(functions_config)}",
            )
        )
    else:
        flags = f" --port {port}"
    text = Template(_SCF_BOOTSTRAP).substitute(port=port, flags=flags + config)
    path.unlink(missing_ok=True)
    _write(path, text)
    path.chmod(0o755)
    return path

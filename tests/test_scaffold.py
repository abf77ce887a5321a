"""The starter project: what ``init_project`` writes, what it refuses, and that it works."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import webtest

import pagesfn
from pagesfn import Pages, PagesError
from pagesfn.serving.scaffold import ScaffoldError, init_project, project_files

EXPECTED = [
    "functions/index.py",
    "functions/_middleware.py",
    "functions/api/hello.py",
    "functions/api/users/[id].py",
    "public/index.html",
    "public/about.html",
    "public/404.html",
    "tests/test_app.py",
    "pytest.ini",
    ".env.example",
    "pagesfn.toml",
    "README.md",
    ".gitignore",
]


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated project, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("scaffold") / "site"
    init_project(root)
    return root


@pytest.fixture
def pages(site: Path) -> Iterator[Pages]:
    # GREETING given, so a value in the environment running the tests cannot change answers.
    app = Pages(site / "functions", public=site / "public", env={"GREETING": "Hello"})
    yield app
    app.close()


# -- what is written -------------------------------------------------------------------------


def test_writes_exactly_the_project_files_in_order(tmp_path: Path) -> None:
    root = tmp_path / "site"
    written = init_project(root)
    assert written == [root / name for name in EXPECTED]
    assert files_under(root) == set(EXPECTED)
    for name, text in project_files("site").items():
        assert (root / name).read_text(encoding="utf-8") == text


def test_project_files_are_named_after_the_folder(tmp_path: Path) -> None:
    init_project(tmp_path / "shop")
    assert (tmp_path / "shop" / "README.md").read_text().startswith("# shop\n")
    assert "<title>shop</title>" in (tmp_path / "shop" / "public/index.html").read_text()


def test_current_folder_gives_its_own_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "blog").mkdir()
    monkeypatch.chdir(tmp_path / "blog")
    written = init_project(".")
    assert written[0] == Path("functions/index.py")
    assert Path("README.md").read_text().startswith("# blog\n")


def test_odd_names_stay_safe_in_html_and_python() -> None:
    name = 'a<b>&"c"\'\\"""'
    files = project_files(name)
    assert files["README.md"].startswith(f"# {name}\n")
    assert (
        "<title>a&lt;b&gt;&amp;&quot;c&quot;&#x27;&#92;&quot;&quot;&quot;</title>"
        in (files["public/index.html"])
    )
    namespace: dict[str, object] = {}
    exec(compile(files["functions/index.py"], "index.py", "exec"), namespace)
    assert "a&lt;b&gt;" in str(namespace["PAGE"])


def test_every_python_file_compiles() -> None:
    for name, text in project_files("site").items():
        if name.endswith(".py"):
            compile(text, name, "exec")


def test_config_and_ignores() -> None:
    files = project_files("site")
    toml = files["pagesfn.toml"]
    for line in ('functions = "functions"', 'public = "public"', "port = 8788"):
        assert f"\n{line}\n" in toml
    for example in ('# origin = "http://127.0.0.1:5173"', "# spa = false", "# workers = 2"):
        assert example in toml
    assert files[".gitignore"].split() == [".env", ".pagesfn/", "__pycache__/", ".venv/"]
    assert "GREETING=Hello" in files[".env.example"].splitlines()


def test_config_parses_as_toml() -> None:
    tomllib = pytest.importorskip("tomllib")
    assert tomllib.loads(project_files("site")["pagesfn.toml"]) == {
        "functions": "functions",
        "public": "public",
        "port": 8788,
    }


# -- what is refused -------------------------------------------------------------------------


def test_error_is_a_pages_error() -> None:
    assert issubclass(ScaffoldError, PagesError)
    assert ScaffoldError.code == "scaffold"


def test_refuses_existing_files_listing_every_one(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "functions/api").mkdir(parents=True)
    (root / "README.md").write_text("mine")
    (root / "functions/api/hello.py").write_text("mine")
    (root / ".gitignore").mkdir()  # a folder in the way counts too
    (root / "public").symlink_to(tmp_path / "nowhere")  # a dangling link as well
    with pytest.raises(ScaffoldError) as caught:
        init_project(root)
    assert caught.value.paths == tuple(
        root / name for name in ("functions/api/hello.py", "public", "README.md", ".gitignore")
    )
    message = str(caught.value)
    assert "4 existing" in message
    for name in ("README.md", "functions/api/hello.py", ".gitignore", "public"):
        assert str(root / name) in message
    assert str(root / "functions/index.py") not in message
    assert files_under(root) == {"README.md", "functions/api/hello.py"}
    assert (root / "README.md").read_text() == "mine"
    assert not (tmp_path / "nowhere").exists()


def test_refuses_a_file_where_a_folder_should_be(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "functions").write_text("not a folder")
    with pytest.raises(ScaffoldError, match="1 existing") as caught:
        init_project(root)
    assert caught.value.paths == (root / "functions",)  # once, for the four files under it
    assert f"  - {root / 'functions'}\n" in str(caught.value) + "\n"
    assert files_under(root) == {"functions"}


def test_refuses_a_file_as_the_project_folder(tmp_path: Path) -> None:
    (tmp_path / "site").write_text("a file")
    with pytest.raises(ScaffoldError, match="not a folder"):
        init_project(tmp_path / "site")


def test_refuses_a_project_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file")
    with pytest.raises(ScaffoldError, match="cannot create"):
        init_project(tmp_path / "file" / "site")


def test_an_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "site" / "notes").mkdir(parents=True)
    (tmp_path / "site" / "notes" / "todo.txt").write_text("keep me")
    init_project(tmp_path / "site")
    assert files_under(tmp_path / "site") == {*EXPECTED, "notes/todo.txt"}


def test_creates_missing_parent_folders(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "site"
    init_project(os.fspath(root))
    assert files_under(root) == set(EXPECTED)


# -- that it works ---------------------------------------------------------------------------


def test_tree_loads_eagerly_without_warnings(site: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = Pages(site / "functions", public=site / "public", eager=True)
    try:
        assert {route.file for route in app.routes} == {
            "index.py",
            "api/hello.py",
            "api/users/[id].py",
        }
        assert [route.file for route in app.table.middleware] == ["_middleware.py"]
    finally:
        app.close()


def asgi_get(app: Pages, path: str) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(send())


def test_routes_answer_on_the_asgi_face(pages: Pages) -> None:
    user = asgi_get(pages, "/api/users/7")
    assert user.json() == {"id": "7"}
    assert user.headers["X-Request-Id"]
    about = asgi_get(pages, "/about")
    assert about.status_code == 200
    assert "About site" in about.text
    assert about.headers["X-Request-Id"]
    assert asgi_get(pages, "/index.html").status_code == 200
    home = asgi_get(pages, "/")
    assert home.headers["Content-Type"] == "text/html; charset=utf-8"
    for link in ("/api/hello", "/api/users/1024", "/index.html", "public/"):
        assert link in home.text
    missing = asgi_get(pages, "/nope")
    assert missing.status_code == 404
    assert "Not found" in missing.text


def test_routes_answer_on_the_wsgi_face(pages: Pages) -> None:
    client = webtest.TestApp(pages.wsgi)
    user = client.get("/api/users/7")
    assert user.json == {"id": "7"}
    assert user.headers["X-Request-Id"]
    assert "About site" in client.get("/about").text
    hello = client.get("/api/hello", {"name": "Ada"})
    assert hello.json == {"message": "Hello, Ada!"}
    assert client.post_json("/api/hello", [1, 2]).json == {"received": [1, 2]}
    assert client.delete("/api/users/7").status_int == 204
    assert client.get("/nope", status=404).text.count("Not found") >= 1


def test_generated_project_test_passes(tmp_path: Path) -> None:
    root = tmp_path / "site"
    init_project(root)
    source = os.fspath(Path(pagesfn.__file__).parents[1])
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else "")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Each test on both faces, and one on the WSGI face alone.
    assert "17 passed" in result.stdout

"""The ``pagesfn`` command, run in-process: ``init``, ``routes``, ``check``, the startup
failures of every command, how ``dev`` and ``serve`` resolve their settings, the request log
and the app answering for a broken tree."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import pagesfn
import pagesfn.serving.server
from pagesfn import Pages, RouteDefinitionError
from pagesfn.errors import Problem
from pagesfn.serving.cli import STARTUP_FAILURE, main
from pagesfn.serving.head_timeout import HeadTimeoutProtocol
from pagesfn.serving.logs import AccessLog, answering_file
from pagesfn.serving.scaffold import project_files
from pagesfn.serving.server import OPTIONS_VARIABLE, app_from_environment, broken_tree_app, resolve
from pagesfn.serving.watch import mounted_sources
from pagesfn.types import Message

Project = Callable[[Mapping[str, str]], Path]

HELLO = """
    def on_request_get(context):
        return "hello"
"""
USER = """
    def on_request_get(context):
        return {"id": context.params["id"]}


    def on_request_delete(context):
        return ""
"""
MIDDLEWARE = """
    async def on_request(context):
        return await context.next()
"""
FLASK_APP = """
    from flask import Flask

    app = Flask(__name__)
"""
FASTAPI_APP = """
    from fastapi import FastAPI

    app = FastAPI()
"""
MISSING_IMPORT_APP = """
    import pagesfn_no_such_module

    app = pagesfn_no_such_module.app
"""

#: A tree with a row of every kind: middleware, handlers, mounted apps, a broken mount.
FULL_TREE = {
    "functions/_middleware.py": MIDDLEWARE,
    "functions/api/_middleware.py": MIDDLEWARE,
    "functions/index.py": HELLO,
    "functions/api/hello.py": HELLO,
    "functions/api/users/[id].py": USER,
    "functions/flask/[[default]].py": FLASK_APP,
    "functions/fast/[[default]].py": FASTAPI_APP,
    "functions/[[path]].py": MISSING_IMPORT_APP,
}

#: (pattern, methods, file, kind) of FULL_TREE in precedence order; the broken mount's kind
#: is checked on its own.
FULL_ROWS = [
    ("/*", "*", "_middleware.py", "middleware"),
    ("/api/*", "*", "api/_middleware.py", "middleware"),
    ("/", "GET, HEAD, OPTIONS", "index.py", "handler"),
    ("/api/hello", "GET, HEAD, OPTIONS", "api/hello.py", "handler"),
    ("/api/users/[id]", "GET, HEAD, DELETE, OPTIONS", "api/users/[id].py", "handler"),
    ("/fast/[[default]]", "*", "fast/[[default]].py", "ASGI app"),
    ("/flask/[[default]]", "*", "flask/[[default]].py", "WSGI app"),
    ("/[[path]]", "*", "[[path]].py", "app (fails to load: ...)"),
]

#: A tree kept out of the default folder, with no middleware at its root.
SMALL_TREE = {
    "api/_middleware.py": MIDDLEWARE,
    "hello.py": HELLO,
    "users/[id].py": USER,
}


@pytest.fixture
def cli() -> Callable[..., Result]:
    """``cli("routes", path, ...)`` runs the command in-process; stdout and stderr apart."""
    runner = CliRunner()

    def invoke(*args: str | os.PathLike[str]) -> Result:
        return runner.invoke(main, [os.fspath(a) for a in args], prog_name="pagesfn")

    return invoke


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the call that starts uvicorn: it records its arguments (those of
    ``uvicorn.run``) instead of serving. The options ``run`` leaves in the environment are
    removed afterwards."""
    pytest.importorskip("uvicorn")
    calls: list[dict[str, Any]] = []

    def fake_run(app: str, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(pagesfn.serving.server, "serve_with_uvicorn", fake_run)
    # Set (then restored) so that what `run` writes there does not outlive the test.
    monkeypatch.setenv(OPTIONS_VARIABLE, "")
    return calls


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def one_line(result: Result) -> str:
    """The single line a startup failure writes to stderr."""
    assert result.exit_code == STARTUP_FAILURE, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pagesfn: ")
    assert result.stdout == ""
    return lines[0]


def table(output: str) -> list[tuple[str, ...]]:
    """The rows of a ``routes`` table, cut at the header's column starts."""
    header, *rows = output.splitlines()
    names = ("PATTERN", "METHODS", "FILE", "KIND")
    assert header.split() == list(names)
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return [
        tuple(row[start:end].strip() for start, end in zip(starts, ends, strict=True))
        for row in rows
    ]


def unloaded(pages: Pages) -> None:
    pages.close()
    pages.loader.unload()


# -- init ------------------------------------------------------------------------------------


def test_init_writes_the_project_and_says_what_next(cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = cli("init", site)
    assert result.exit_code == 0, result.output
    created = [f"  created {site / name}" for name in project_files("site")]
    assert result.stdout.splitlines() == [*created, "", f"Next: cd {site} && pagesfn dev"]
    assert set(files_under(site)) == set(project_files("site"))


def test_init_in_the_current_folder_needs_no_cd(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Next: pagesfn dev"
    assert (tmp_path / "functions" / "index.py").is_file()


def test_init_twice_refuses_and_writes_nothing(cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert cli("init", site).exit_code == 0
    (site / "README.md").write_text("mine")
    before = files_under(site)
    line = one_line(cli("init", site))
    written = len(project_files("site"))
    assert line.startswith(f"pagesfn: refusing to overwrite {written} existing file(s)")
    assert str(site / "README.md") in line
    assert files_under(site) == before


def test_init_refuses_over_one_file_and_writes_no_other(cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "pagesfn.toml").write_text("port = 9000\n")
    line = one_line(cli("init", site))
    assert line.startswith("pagesfn: refusing to overwrite 1 existing file(s)")
    assert str(site / "pagesfn.toml") in line
    assert files_under(site) == {"pagesfn.toml": b"port = 9000\n"}


# -- routes ----------------------------------------------------------------------------------


def test_routes_prints_the_table_in_precedence_order(cli, project: Project) -> None:
    root = project(FULL_TREE)
    result = cli("routes", root)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    rows = table(result.stdout)
    assert [row[:3] for row in rows] == [row[:3] for row in FULL_ROWS]
    assert [row[3] for row in rows[:-1]] == [row[3] for row in FULL_ROWS[:-1]]
    broken = rows[-1][3]
    assert broken.startswith("app (fails to load: [[path]].py: ")
    assert "ModuleNotFoundError" in broken
    assert "pagesfn_no_such_module" in broken
    assert broken.endswith(")")


def test_routes_json_has_the_same_rows(cli, project: Project) -> None:
    root = project(FULL_TREE)
    shown = table(cli("routes", root).stdout)
    result = cli("routes", root, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [set(row) for row in rows] == [{"pattern", "methods", "file", "kind"}] * len(rows)
    as_table = [(r["pattern"], ", ".join(r["methods"]), r["file"], r["kind"]) for r in rows]
    assert as_table == shown
    assert rows[4]["methods"] == ["GET", "HEAD", "DELETE", "OPTIONS"]


def test_routes_of_an_empty_tree(cli, project: Project) -> None:
    root = project({"functions/.keep": ""})
    result = cli("routes", root)
    assert (result.exit_code, result.stdout) == (0, "no routes\n")
    assert json.loads(cli("routes", root, "--json").stdout) == []


def test_routes_json_flag_prints_the_trees_routes_json(cli, project: Project) -> None:
    root = project({f"functions/{name}": source for name, source in SMALL_TREE.items()})
    result = cli("routes", root, "--routes-json")
    assert result.exit_code == 0, result.output
    pages = Pages(root / "functions")
    try:
        expected = pages.routes_json()
    finally:
        unloaded(pages)
    assert json.loads(result.stdout) == expected
    assert expected["version"] == 1
    assert json.loads(result.stdout)["include"] == ["/api/*", "/hello", "/users/*"]


def test_routes_honours_functions(cli, project: Project) -> None:
    root = project({f"handlers/{name}": source for name, source in SMALL_TREE.items()})
    assert cli("routes", root).exit_code == STARTUP_FAILURE  # no functions/ folder
    result = cli("routes", root, "--functions", root / "handlers")
    assert result.exit_code == 0, result.output
    assert [row[0] for row in table(result.stdout)] == ["/api/*", "/hello", "/users/[id]"]


def test_routes_functions_is_relative_to_the_current_folder(
    cli, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({f"handlers/{name}": source for name, source in SMALL_TREE.items()})
    monkeypatch.chdir(root)
    result = cli("routes", ".", "--functions", "handlers", "--json")
    assert result.exit_code == 0, result.output
    assert [row["file"] for row in json.loads(result.stdout)] == [
        "api/_middleware.py",
        "hello.py",
        "users/[id].py",
    ]


def test_routes_honours_config(cli, project: Project) -> None:
    files = {f"src/handlers/{name}": source for name, source in SMALL_TREE.items()}
    # Relative paths in a config file are relative to the file's folder.
    files["conf/site.toml"] = 'functions = "../src/handlers"\n'
    root = project(files)
    result = cli("routes", root, "--config", root / "conf" / "site.toml")
    assert result.exit_code == 0, result.output
    assert [row[2] for row in table(result.stdout)] == [
        "api/_middleware.py",
        "hello.py",
        "users/[id].py",
    ]


def test_routes_reads_the_projects_pagesfn_toml(cli, project: Project) -> None:
    files = {f"handlers/{name}": source for name, source in SMALL_TREE.items()}
    files["pagesfn.toml"] = 'functions = "handlers"\n'
    result = cli("routes", project(files), "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3


def test_routes_functions_flag_wins_over_the_config_file(cli, project: Project) -> None:
    files = {f"handlers/{name}": source for name, source in SMALL_TREE.items()}
    files["functions/only.py"] = HELLO
    files["pagesfn.toml"] = 'functions = "functions"\n'
    root = project(files)
    result = cli("routes", root, "--functions", root / "handlers", "--json")
    assert [row["file"] for row in json.loads(result.stdout)] == [
        "api/_middleware.py",
        "hello.py",
        "users/[id].py",
    ]


def test_routes_leaves_no_route_module_imported(cli, project: Project) -> None:
    before = set(sys.modules)
    assert cli("routes", project(FULL_TREE)).exit_code == 0
    leaked = [name for name in set(sys.modules) - before if name.startswith("_pagesfn_routes_")]
    assert leaked == []


# -- check -----------------------------------------------------------------------------------


def test_check_a_good_tree(cli, project: Project) -> None:
    root = project({name: FULL_TREE[name] for name in list(FULL_TREE)[:5]})
    result = cli("check", root)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 3 routes, 2 middleware\n"
    assert result.stderr == ""


def test_check_imports_mounted_apps(cli, project: Project) -> None:
    files = {name: source for name, source in FULL_TREE.items() if "[[path]]" not in name}
    result = cli("check", project(files))
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 5 routes, 2 middleware\n"


def test_check_lists_every_broken_module(cli, project: Project) -> None:
    root = project(
        {
            "functions/ok.py": HELLO,
            "functions/imports.py": """
                import pagesfn_no_such_module


                def on_request_get(context):
                    return "never"
            """,
            "functions/syntax.py": """
                def on_request_get(context)
                    return "never"
            """,
            "functions/number.py": "on_request_get = 5\n",
            "functions/api/_middleware.py": """
                raise RuntimeError("middleware boom")


                def on_request(context):
                    return context.next()
            """,
        }
    )
    result = cli("check", root)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "4 module(s) failed to load:"
    assert len(lines) == 5
    failures = {line.removeprefix("  - ").split(":", 1)[0]: line for line in lines[1:]}
    assert set(failures) == {"imports.py", "syntax.py", "number.py", "api/_middleware.py"}
    assert "ModuleNotFoundError" in failures["imports.py"]
    assert "syntax error at line 1" in failures["syntax.py"]
    assert "`on_request_get` is an int, not a function" in failures["number.py"]
    assert "RuntimeError: middleware boom" in failures["api/_middleware.py"]


def test_check_reports_a_mount_that_fails_to_load(cli, project: Project) -> None:
    result = cli("check", project(FULL_TREE))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0] == "1 module(s) failed to load:"
    assert "[[path]].py: failed to import" in result.stderr


def test_check_warns_about_files_without_a_handler(cli, project: Project) -> None:
    root = project(
        {
            "functions/hello.py": HELLO,
            "functions/helpers.py": "GREETING = 'hi'\n",
            "functions/api/_middleware.py": "VALUE = 1\n",
        }
    )
    result = cli("check", root)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 1 routes, 0 middleware\n"
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert all(line.startswith("warning: ") for line in warnings)
    assert any(line.startswith("warning: helpers.py: exports no handler") for line in warnings)
    assert any("api/_middleware.py: exports no handler" in line for line in warnings)


def test_check_warns_and_fails_together(cli, project: Project) -> None:
    root = project({"functions/helpers.py": "X = 1\n", "functions/number.py": "on_request = 1\n"})
    result = cli("check", root)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("warning: helpers.py")
    assert lines[1] == "1 module(s) failed to load:"


def test_check_honours_functions_and_config(cli, project: Project) -> None:
    files = {f"handlers/{name}": source for name, source in SMALL_TREE.items()}
    files["conf/pagesfn.toml"] = 'functions = "../handlers"\n'
    root = project(files)
    expected = "ok: 2 routes, 1 middleware\n"
    assert cli("check", root, "--functions", root / "handlers").stdout == expected
    assert cli("check", root, "--config", root / "conf" / "pagesfn.toml").stdout == expected


# -- startup failures ------------------------------------------------------------------------

BAD_PARAM = {"functions/hello.py": HELLO, "functions/x/[a-b].py": HELLO}


def test_routes_on_a_bad_param_name_fails_in_one_line(cli, project: Project) -> None:
    line = one_line(cli("routes", project(BAD_PARAM)))
    assert "x/[a-b].py: route parameter `a-b` must be a Python identifier" in line
    assert "rename it `[a_b]`" in line


def test_check_on_a_bad_param_name_fails_listing_each_problem(cli, project: Project) -> None:
    root = project({**BAD_PARAM, "functions/y/[[1st]].py": HELLO})
    result = cli("check", root)
    assert result.exit_code == STARTUP_FAILURE
    assert result.stdout == ""
    first, *problems = result.stderr.splitlines()
    assert first == "pagesfn: the functions tree has 2 problems:"
    assert len(problems) == 2
    assert "x/[a-b].py: route parameter `a-b`" in problems[0]
    assert "y/[[1st]].py: route parameter `1st`" in problems[1]


@pytest.mark.parametrize("command", ["routes", "check", "dev", "serve"])
def test_an_unknown_config_key_is_named(
    cli, project: Project, command: str, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO, "pagesfn.toml": "prot = 9000\n"})
    result = cli(command, root)
    assert result.exit_code == STARTUP_FAILURE
    assert result.stderr.startswith("pagesfn: ")
    assert "pagesfn.toml: unknown key `prot`; did you mean `port`?" in result.stderr
    assert no_server == []


def test_a_missing_config_file_is_named(cli, project: Project) -> None:
    root = project({"functions/hello.py": HELLO})
    line = one_line(cli("routes", root, "--config", root / "nope.toml"))
    assert "nope.toml: the config file does not exist" in line


def test_a_missing_project_folder_fails(cli, tmp_path: Path) -> None:
    line = one_line(cli("routes", tmp_path / "nowhere"))
    assert "the project folder does not exist" in line


@pytest.mark.parametrize("port", ["0", "70000"])
@pytest.mark.parametrize("command", ["dev", "serve"])
def test_a_port_out_of_range_fails_before_serving(
    cli, project: Project, command: str, port: str, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO})
    line = one_line(cli(command, root, "--port", port))
    assert line == (
        "pagesfn: the configuration has 1 problem: "
        f"command line: `--port` must be an integer from 1 to 65535, not {port}"
    )
    assert no_server == []


def test_a_port_in_a_config_file_is_checked_too(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO, "pagesfn.toml": "port = 0\nworkers = 0\n"})
    line = one_line(cli("serve", root))
    assert "the configuration has 2 problems" in line
    assert "`port` must be an integer from 1 to 65535, not 0" in line
    assert "`workers` must be an integer of at least 1, not 0" in line
    assert no_server == []


@pytest.mark.parametrize("args", [["serve"], ["dev", "--no-reload"]], ids=["serve", "no-reload"])
def test_a_broken_tree_fails_before_serving_without_reload(
    cli, project: Project, args: list[str], no_server: list[dict[str, Any]]
) -> None:
    line = one_line(cli(*args, project(BAD_PARAM)))
    assert "x/[a-b].py: route parameter `a-b` must be a Python identifier" in line
    assert no_server == []


def test_a_broken_routes_json_fails_serve(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO, "public/_routes.json": "{"})
    line = one_line(cli("serve", root))
    assert "_routes.json" in line
    assert no_server == []


def test_dev_starts_on_a_broken_tree_and_shows_what_is_wrong(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project(BAD_PARAM)
    result = cli("dev", root, "--port", "9126")
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert call["reload"] is True
    app = app_from_environment()
    response = call_app(app, "GET", "/hello", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert "x/[a-b].py: route parameter `a-b` must be a Python identifier" in response.text
    (root / "functions" / "x" / "[a-b].py").rename(root / "functions" / "x" / "[a_b].py")
    fixed = app_from_environment()  # what the next reload builds
    try:
        assert call_app(fixed, "GET", "/hello").text == "hello"
    finally:
        unloaded(fixed.pages)  # inside the request log


@pytest.mark.parametrize("command", ["dev", "serve"])
def test_a_port_in_use_fails_before_serving(
    cli, project: Project, command: str, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(cli(command, root, "--port", str(port)))
    assert line.startswith(f"pagesfn: cannot listen on 127.0.0.1:{port}: ")
    assert no_server == []


@pytest.mark.parametrize("where", ["flag", "file"])
def test_granian_not_installed_is_one_line_naming_the_extra(
    cli,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    no_server: list[dict[str, Any]],
    where: str,
) -> None:
    monkeypatch.setitem(sys.modules, "granian", None)  # as if it were not installed
    files = {"functions/hello.py": HELLO}
    if where == "file":
        files["pagesfn.toml"] = 'server = "granian"\n'
    flags = ["--server", "granian"] if where == "flag" else []
    line = one_line(cli("serve", project(files), *flags))
    assert line == "pagesfn: the granian server is not installed: pip install 'granian>=2.5'"
    assert no_server == []


def test_an_unknown_server_is_refused(cli, project: Project) -> None:
    result = cli("serve", project({"functions/hello.py": HELLO}), "--server", "daphne")
    assert result.exit_code == 2
    assert "'daphne' is not one of 'uvicorn', 'granian'" in result.stderr
    root = project({"functions/hello.py": HELLO, "pagesfn.toml": 'server = "daphne"\n'})
    line = one_line(cli("serve", root))
    assert '`server` must be "uvicorn" or "granian", not "daphne"' in line


def test_an_unknown_log_format_is_refused_by_the_command(cli, project: Project) -> None:
    result = cli("serve", project({"functions/hello.py": HELLO}), "--log-format", "xml")
    assert result.exit_code == 2
    assert "'xml' is not one of 'text', 'json'" in result.stderr


# -- help and version ------------------------------------------------------------------------

SERVER_OPTIONS = [
    "--config",
    "--functions",
    "--public",
    "--origin",
    "--env-file",
    "--host",
    "--port",
    "--spa / --no-spa",
    "--log-format",
]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ([], ["--version", "--help", "init", "dev", "serve", "routes", "check"]),
        (["init"], ["DIRECTORY"]),
        (["dev"], [*SERVER_OPTIONS, "--reload / --no-reload"]),
        (["serve"], [*SERVER_OPTIONS, "--workers", "--access-log / --no-access-log"]),
        (["routes"], ["--config", "--functions", "--json", "--routes-json"]),
        (["check"], ["--config", "--functions"]),
    ],
)
def test_help_lists_the_options(cli, command: list[str], options: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.stdout


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"pagesfn, version {pagesfn.__version__}\n"


# -- resolve and run -------------------------------------------------------------------------


def modes(config: Any) -> tuple[bool | None, bool | None, bool | None]:
    return (config.debug, config.reload, config.access_log)


def test_dev_turns_debug_reload_and_the_log_on(tmp_path: Path) -> None:
    assert modes(resolve(tmp_path, "dev", None, {})) == (True, True, True)


def test_serve_turns_them_off(tmp_path: Path) -> None:
    assert modes(resolve(tmp_path, "serve", None, {})) == (False, False, False)


def test_options_win_over_the_modes_defaults(tmp_path: Path) -> None:
    dev = resolve(tmp_path, "dev", None, {"reload": False, "access_log": None})
    assert modes(dev) == (True, False, True)
    serve = resolve(tmp_path, "serve", None, {"access_log": True, "debug": None})
    assert modes(serve) == (False, False, True)


def test_the_config_file_wins_over_the_modes_defaults(tmp_path: Path) -> None:
    (tmp_path / "pagesfn.toml").write_text("debug = false\naccess-log = true\n")
    assert modes(resolve(tmp_path, "dev", None, {})) == (False, True, True)
    assert modes(resolve(tmp_path, "serve", None, {})) == (False, False, True)


def test_options_win_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("reload = false\naccess_log = true\nport = 9000\n")
    resolved = resolve(tmp_path, "dev", config, {"access_log": False, "port": 9001})
    assert modes(resolved) == (True, False, False)
    assert resolved.port == 9001
    assert resolved.source == config


def test_serve_runs_uvicorn_with_workers_and_no_reload(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO, "public/a.txt": "a"})
    result = cli("serve", root, "--port", "9123", "--workers", "3", "--host", "127.0.0.2")
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert call["app"] == "pagesfn.serving.server:app_from_environment"
    assert call["factory"] is True
    assert (call["host"], call["port"], call["workers"], call["reload"]) == (
        "127.0.0.2",
        9123,
        3,
        False,
    )
    assert call["access_log"] is False  # pagesfn writes its own
    app = app_from_environment()
    assert call["http"] is HeadTimeoutProtocol  # the head timeout (serving.head_timeout)
    try:
        assert isinstance(app, Pages)
        assert app.debug is False
    finally:
        unloaded(app)


def test_dev_runs_uvicorn_with_reload_watching_the_tree(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO, "public/a.txt": "a"})
    result = cli("dev", root, "--port", "9124", "--log-format", "json")
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert (call["port"], call["workers"], call["reload"]) == (9124, None, True)
    # The tree only: static files are read per request and need no restart.
    assert call["reload_dirs"] == [str(root / "functions")]
    assert call["reload_includes"] == ["*"]
    assert "__pycache__" in call["reload_excludes"]
    app = app_from_environment()
    try:
        assert isinstance(app, AccessLog)
        assert app.json_lines is True
        assert app.pages.debug is True
    finally:
        unloaded(app.pages)


def test_dev_watches_the_folders_named_to_watch_too(
    cli, project: Project, no_server: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A mounted app's package outside the tree (``pip install -e``) is watched when named:
    by ``--watch`` (repeatable), or ``watch`` in the config file (relative to it); a folder
    already inside a watched one is not watched twice."""
    root = project({"functions/hello.py": HELLO, "functions/lib/x.py": ""})
    shop, blog = tmp_path / "shop", tmp_path / "blog"
    shop.mkdir()
    blog.mkdir()
    result = cli("dev", root, "--watch", str(shop), "--watch", str(root / "functions" / "lib"))
    assert result.exit_code == 0, result.output
    (root / "pagesfn.toml").write_text('watch = ["../blog"]\n')
    assert cli("dev", root).exit_code == 0
    first, second = no_server
    assert first["reload_dirs"] == [str(root / "functions"), str(shop)]
    assert second["reload_dirs"] == [str(root / "functions"), str(blog)]


def test_dev_watches_where_mounted_apps_come_from(
    cli, no_server: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the catch-all files import from outside the tree is watched (a package, or a
    module's folder, on the path as with ``pip install -e``); the standard library,
    installed packages, the tree itself and relative imports are not."""
    elsewhere = tmp_path / "src"
    (elsewhere / "shop").mkdir(parents=True)
    (elsewhere / "shop" / "__init__.py").write_text("app = None\n")
    single = tmp_path / "single"
    single.mkdir()
    (single / "blog_app.py").write_text("app = None\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    monkeypatch.syspath_prepend(str(single))
    functions = tmp_path / "site" / "functions"
    (functions / "shop").mkdir(parents=True)
    (functions / "shop" / "[[default]].py").write_text(
        "import json, os.path\nimport flask\nfrom shop import app\nfrom . import x\n"
    )
    (functions / "blog").mkdir()
    (functions / "blog" / "[[path]].py").write_text("from blog_app.sub import app\n")
    (functions / "plain.py").write_text("import shop\n")  # not a catch-all: not read
    (functions / "_lib").mkdir()
    (functions / "_lib" / "[[x]].py").write_text("import blog_app\n")  # not routed
    (functions / "broken").mkdir()
    (functions / "broken" / "[[default]].py").write_text("import (\n")
    assert mounted_sources(functions) == [single, elsewhere / "shop"]  # in the tree's order
    assert cli("dev", functions.parent).exit_code == 0
    [call] = no_server
    assert call["reload_dirs"] == [str(functions), str(single), str(elsewhere / "shop")]


def test_the_app_of_a_tree_broken_after_startup(
    cli, project: Project, no_server: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"functions/hello.py": HELLO})
    assert cli("serve", root, "--port", "9125").exit_code == 0
    given = json.loads(os.environ[OPTIONS_VARIABLE])
    assert (given["mode"], given["options"]["port"]) == ("serve", 9125)
    (root / "functions" / "[a-b].py").write_text("def on_request(context): pass\n")
    # Without reload nothing would bring a broken worker back: it fails.
    with pytest.raises(RouteDefinitionError):
        app_from_environment()
    # With reload it answers with the problem until the next change.
    monkeypatch.setenv(OPTIONS_VARIABLE, json.dumps({**given, "mode": "dev"}))
    app = app_from_environment()
    assert not isinstance(app, Pages | AccessLog)
    response = call_app(app, "GET", "/hello")
    assert response.status_code == 500
    assert "[a-b].py: route parameter `a-b`" in response.json()["detail"]


def test_app_from_environment_without_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OPTIONS_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match=f"{OPTIONS_VARIABLE} is not set"):
        app_from_environment()


# -- the request log -------------------------------------------------------------------------


def call_app(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(send())


LOGGED_TREE = {
    "api/hello.py": """
        def on_request_get(context):
            return "hello " + context.request.args.get("name", "")
    """,
    "api/id.py": """
        def on_request_get(context):
            return context.uuid
    """,
    "api/boom.py": """
        def on_request_get(context):
            raise RuntimeError("boom")
    """,
}

LINE = re.compile(r"^(\S+) (\S+) (\d{3}) (\d+\.\d) ms  (\S+)  (\S*)$")


@pytest.fixture
def logged(pages: Callable[..., Pages], tmp_path: Path) -> Callable[..., AccessLog]:
    """``logged(**options)``: the tree above, with a public folder, behind ``AccessLog``
    writing to a ``StringIO``."""
    public = tmp_path / "public"
    public.mkdir()
    (public / "style.css").write_text("body{}")

    def make(*, public_folder: bool = True, **options: Any) -> AccessLog:
        app = pages(LOGGED_TREE, public=public if public_folder else None)
        return AccessLog(app, stream=io.StringIO(), **options)

    return make


def lines_of(log: AccessLog) -> list[str]:
    assert isinstance(log.stream, io.StringIO)
    return log.stream.getvalue().splitlines()


def fields(line: str, *groups: int) -> tuple[str, ...]:
    """Parts of a text log line: 1 method, 2 path, 3 status, 4 ms, 5 file, 6 request id."""
    match = LINE.match(line)
    assert match, line
    return match.group(*groups)


def test_a_text_line_per_request(logged) -> None:
    log = logged()
    response = call_app(log, "GET", "/api/hello?name=Ada", headers={"eo-log-uuid": "req-1"})
    assert response.text == "hello Ada"
    [line] = lines_of(log)
    assert fields(line, 1, 2, 3, 5, 6) == (
        "GET",
        "/api/hello?name=Ada",
        "200",
        "api/hello.py",
        "req-1",
    )


def test_the_logged_id_is_the_one_handlers_see(logged) -> None:
    log = logged()
    seen = call_app(log, "GET", "/api/id").text
    [line] = lines_of(log)
    assert len(seen) == 32
    assert line.endswith(f"  api/id.py  {seen}")
    assert call_app(log, "GET", "/api/id", headers={"eo-log-uuid": "abc-123"}).text == "abc-123"
    assert lines_of(log)[1].endswith("  abc-123")


@pytest.mark.parametrize("header", ["", "x" * 200], ids=["empty", "too-long"])
def test_the_logged_id_is_the_one_handlers_see_for_an_unusable_header(logged, header: str) -> None:
    # Handlers replace an empty or overlong eo-log-uuid with a fresh id (context.uuid);
    # the log line must name that same id.
    log = logged()
    seen = call_app(log, "GET", "/api/id", headers={"eo-log-uuid": header}).text
    assert seen != header
    [line] = lines_of(log)
    assert line.endswith(f"  api/id.py  {seen}"), line


def test_every_request_gets_its_own_id(logged) -> None:
    log = logged()
    ids = {call_app(log, "GET", "/api/id").text for _ in range(3)}
    assert len(ids) == 3
    assert {line.rsplit(" ", 1)[1] for line in lines_of(log)} == ids


def test_the_answering_file_of_a_static_file_and_of_nothing(logged) -> None:
    log = logged()
    assert call_app(log, "GET", "/style.css").status_code == 200
    assert call_app(log, "GET", "/missing").status_code == 404
    statics = [fields(line, 2, 3, 5) for line in lines_of(log)]
    assert statics == [("/style.css", "200", "public/"), ("/missing", "404", "public/")]

    bare = logged(public_folder=False)
    assert call_app(bare, "GET", "/missing").status_code == 404
    [line] = lines_of(bare)
    assert fields(line, 3, 5) == ("404", "-")


def test_a_raising_handler_is_logged_as_500(logged) -> None:
    log = logged()
    assert call_app(log, "GET", "/api/boom").status_code == 500
    [line] = lines_of(log)
    assert fields(line, 1, 3, 5) == ("GET", "500", "api/boom.py")


def test_json_lines(logged) -> None:
    log = logged(json_lines=True)
    call_app(log, "GET", "/api/hello?name=Ada", headers={"eo-log-uuid": "req-2"})
    seen = call_app(log, "GET", "/api/id").text
    first, second = (json.loads(line) for line in lines_of(log))
    keys = {"time", "method", "path", "status", "duration_ms", "file", "request_id", "client"}
    assert set(first) == set(second) == keys
    assert {k: first[k] for k in keys - {"time", "duration_ms"}} == {
        "method": "GET",
        "path": "/api/hello?name=Ada",
        "status": 200,
        "file": "api/hello.py",
        "request_id": "req-2",
        "client": "203.0.113.7",
    }
    assert isinstance(first["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", first["time"])
    assert (second["path"], second["status"], second["file"]) == ("/api/id", 200, "api/id.py")
    assert second["request_id"] == seen


def test_a_method_no_route_takes_is_not_blamed_on_the_public_folder(logged) -> None:
    # POST /api/id is answered 405 by the router: the public folder serves no POST, so the
    # line names the route file whose path it is, or nothing.
    log = logged()
    assert call_app(log, "POST", "/api/id").status_code == 405
    [line] = lines_of(log)
    assert fields(line, 3, 5) in [("405", "api/id.py"), ("405", "-")], line


def test_no_colour_when_the_stream_is_not_a_terminal(logged) -> None:
    log = logged()
    assert log.colour is False
    call_app(log, "GET", "/api/hello")
    [line] = lines_of(log)
    assert "\x1b[" not in line


def test_answering_file(pages: Callable[..., Pages]) -> None:
    app = pages(LOGGED_TREE)
    assert answering_file(app, "GET", b"/api/hello") == "api/hello.py"
    assert answering_file(app, "GET", b"/api/nothing") == "-"
    assert answering_file(app, "GET", b"/api/%2e%2e/x") == "-"


def test_lifespan_passes_through_without_a_line(logged) -> None:
    log = logged()
    assert drive_lifespan(log) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert lines_of(log) == []


# -- the app of a broken tree ----------------------------------------------------------------

TREE_ERROR = RouteDefinitionError(
    [Problem("x/[a-b].py", "route parameter `a-b` must be a Python identifier", "rename it")]
)


def drive_lifespan(app: Any) -> list[str]:
    """Run ``app``'s lifespan (startup, then shutdown); the types of the messages it sent."""

    async def run() -> list[str]:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        sent: list[str] = []

        async def send(message: Message) -> None:
            sent.append(message["type"])

        for kind in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": kind})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        await asyncio.wait_for(app(scope, inbox.get, send), 5)
        return sent

    return asyncio.run(run())


def test_broken_tree_app_answers_500_with_the_error_as_json() -> None:
    app = broken_tree_app(TREE_ERROR)
    for method, path in [("GET", "/"), ("POST", "/api/hello?x=1"), ("DELETE", "/a/b")]:
        response = call_app(app, method, path)
        assert response.status_code == 500
        assert response.json() == {
            "error": "Internal Server Error",
            "detail": str(TREE_ERROR),
            "exception": "RouteDefinitionError",
            "source": None,
            "traceback": [],
        }


def test_broken_tree_app_answers_browsers_with_html() -> None:
    response = call_app(
        broken_tree_app(TREE_ERROR), "GET", "/", headers={"Accept": "text/html,*/*"}
    )
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>500: RouteDefinitionError</title>" in response.text
    assert "x/[a-b].py: route parameter `a-b` must be a Python identifier" in response.text


def test_broken_tree_app_answers_head_without_a_body() -> None:
    response = call_app(broken_tree_app(TREE_ERROR), "HEAD", "/")
    assert (response.status_code, response.content) == (500, b"")


def test_broken_tree_app_completes_its_lifespan() -> None:
    assert drive_lifespan(broken_tree_app(TREE_ERROR)) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


# -- bootstrap -------------------------------------------------------------------------------


def test_bootstrap_scf_writes_an_executable_start_script(cli, tmp_path: Path) -> None:
    result = cli("bootstrap", "scf", tmp_path)
    assert result.exit_code == 0, result.output
    script = tmp_path / "scf_bootstrap"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert text.rstrip().endswith("-m pagesfn serve . --host 0.0.0.0 --port 9000")
    # Kept, not overwritten, unless asked.
    again = cli("bootstrap", "scf", tmp_path, "--port", "9001")
    assert again.exit_code == 3 and "--force" in again.output
    assert script.read_text() == text
    forced = cli(
        "bootstrap", "scf", tmp_path, "--port", "9001", "--config", "my config.toml", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert script.read_text().rstrip().endswith("--port 9001 --config 'my config.toml'")


def test_bootstrap_scf_needs_a_folder(cli, tmp_path: Path) -> None:
    result = cli("bootstrap", "scf", tmp_path / "missing")
    assert result.exit_code == 3
    assert "is not a folder" in result.output
    assert not (tmp_path / "missing").exists()


def test_a_head_timeout_of_zero_serves_with_uvicorn_as_it_is(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project({"functions/hello.py": HELLO})
    result = cli("serve", root, "--port", "9125", "--head-timeout", "0")
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert call["http"] == "auto"
    app = app_from_environment()
    try:
        assert isinstance(app, Pages)
    finally:
        unloaded(app)

"""A project routed by a ``cloudbase-functions.json`` through the command: how the file is
found and what port it is served on, the original framework's flags in their
``--flag=value`` form, the log folder and intercepted output, start-up errors, ``routes``,
``check``, hot reload and an ``scf_bootstrap`` started as the platform starts it; the
servers run as real processes on loopback ports."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

# The command's in-process helpers and fixtures, and the real servers' helpers.
import test_commands
from test_commands import Project, one_line, table
from test_servers import (
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    Server,
    environment,
    exited,
    free_port,
    running,
    status_and_json,
    wait_for,
)

from pagesfn.routing.cloudbase import CONFIG_FILE, EXTENDED_CONTEXT_HEADER
from pagesfn.serving.config import FUNCTIONS_CONFIG_PORT, ConfigError, load_config
from pagesfn.serving.server import OPTIONS_VARIABLE, resolve

#: The fixtures of test_commands.py: ``cli(...)`` runs the command in-process, and
#: ``no_server`` records what would have started uvicorn instead of starting it.
cli = test_commands.cli
no_server = test_commands.no_server

CONFIG = CONFIG_FILE

#: The document's layout: a default function, `user` on a triggerPath, a Flask app on a
#: route of `routes`, and a function that raises.
FUNCTIONS = {
    "functionsRoot": ".",
    "functions": [
        {"name": "default", "directory": "."},
        {"name": "user", "directory": "user", "triggerPath": "/api/user"},
        {"name": "shop", "directory": "shop"},
        {"name": "boom", "directory": "boom", "triggerPath": "/boom"},
    ],
    "routes": [{"functionName": "shop", "path": "/api/shop"}],
}

DEFAULT = """
    def main(event, context):
        print("printed by the default function for", context.httpContext.url)
        return {
            "function": "default",
            "url": context.httpContext.url,
            "extended": context.extendedContext,
        }
"""
USER = """
    def main(event, context):
        http = context.httpContext
        return {
            "function": "user",
            "url": http.url,
            "method": http.httpMethod,
            "event": event,
            "version": 1,
        }
"""
SHOP = """
    from flask import Flask, request

    app = Flask(__name__)


    @app.get("/")
    def index():
        return {"route": "index", "script_root": request.script_root}


    @app.get("/profile")
    def profile():
        return {"path": request.path, "script_root": request.script_root}


    main = app
"""
BOOM = """
    def main(event, context):
        raise RuntimeError("boom from a config function")
"""


HELLO = "def on_request(context):\n    return 'hi'\n"


def files(
    config: Mapping[str, Any] = FUNCTIONS, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The project's files: ``config`` as the config file, the four functions, and
    ``extra``."""
    written = {
        CONFIG: json.dumps(config, indent=2),
        "index.py": DEFAULT,
        "user/index.py": USER,
        "shop/index.py": SHOP,
        "boom/index.py": BOOM,
    }
    written.update(extra or {})
    return written


#: A project of route files (a functions folder, which wins over the config file).
ROUTE_FILES = files(extra={"functions/hello.py": HELLO})


def set_config(root: Path, config: Mapping[str, Any]) -> None:
    (root / CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")


def text_of(path: Path) -> str:
    """What a log file holds so far ("" while it does not exist)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def given_config(mode: str) -> Any:
    """The configuration the server's processes resolve from what ``run`` left them."""
    given = json.loads(os.environ[OPTIONS_VARIABLE])
    assert given["mode"] == mode
    return resolve(given["project"], given["mode"], given["config_file"], given["options"])


# -- finding the file, and the port -------------------------------------------------------


def test_the_file_routes_a_project_without_a_functions_folder_on_port_9000(
    project: Project,
) -> None:
    root = project(files())
    config = load_config(root)
    assert config.functions_config == root / CONFIG
    assert config.port == FUNCTIONS_CONFIG_PORT == 9000
    assert config.extended_context_header == EXTENDED_CONTEXT_HEADER == "X-Cloudbase-Context"
    assert (config.log_dir, config.intercept_output) == (None, False)
    assert config.pages_options()["functions_config"] == root / CONFIG
    # Served by the command, it logs to the framework's folder (its --logDirname default);
    # on AWS Lambda it writes no log folder.
    for mode, log_dir in (
        ("serve", Path("/tmp/logs")),
        ("dev", Path("/tmp/logs")),
        ("lambda", None),
    ):
        assert resolve(root, mode, None, {}).log_dir == log_dir
    assert resolve(root, "serve", None, {"log_dir": root / "logs"}).log_dir == root / "logs"
    # A tree of route files keeps its own defaults: no log folder, port 8788.
    plain = resolve(project(ROUTE_FILES), "serve", None, {})
    assert (plain.functions_config, plain.log_dir, plain.port) == (None, None, 8788)


def test_a_functions_folder_wins_over_the_file(project: Project) -> None:
    root = project(
        files(extra={"functions/hello.py": "def on_request(context):\n    return 'hi'\n"})
    )
    config = load_config(root)
    assert config.functions_config is None
    assert config.functions == root / "functions"
    assert config.port == 8788


def test_a_project_without_the_file_keeps_port_8788(project: Project) -> None:
    root = project({"other.json": "{}"})
    config = load_config(root)
    assert (config.functions_config, config.port) == (None, 8788)


def test_a_port_in_pagesfn_toml_or_on_the_command_line_wins_over_9000(project: Project) -> None:
    root = project({**files(), "pagesfn.toml": "port = 8123\n"})
    config = load_config(root)
    assert (config.functions_config, config.port) == (root / CONFIG, 8123)
    assert load_config(root, {"port": 8124}).port == 8124
    (root / "pagesfn.toml").unlink()
    assert load_config(root, {"port": 8125}).port == 8125


@pytest.mark.parametrize(
    ("toml", "overrides"),
    [
        ('functions = "src"\n', {}),
        ("", {"functions": "src"}),
    ],
    ids=["pagesfn.toml", "flag"],
)
def test_naming_a_functions_folder_turns_the_detection_off(
    project: Project, monkeypatch: pytest.MonkeyPatch, toml: str, overrides: dict[str, Any]
) -> None:
    root = project(files())
    (root / "pagesfn.toml").write_text(toml)
    monkeypatch.chdir(root)  # a flag's relative path is relative to the current folder
    config = load_config(root, overrides)
    assert config.functions_config is None
    assert config.functions == root / "src"
    assert config.port == 8788


def test_functions_config_in_pagesfn_toml_is_relative_to_its_folder(project: Project) -> None:
    layout = {f"conf/{name}": text for name, text in files().items()}
    root = project({**layout, "functions/hello.py": "x = 1\n"})
    (root / "pagesfn.toml").write_text('functions-config = "conf/cloudbase-functions.json"\n')
    config = load_config(root)
    # Named, it wins over the functions folder, and the port is the framework's.
    assert config.functions_config == root / "conf" / CONFIG
    assert config.port == 9000


def test_the_functions_config_flag_wins_over_a_functions_folder(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(files(extra={"functions/hello.py": "x = 1\n"}))
    monkeypatch.chdir(root.parent)
    config = load_config(root, {"functions_config": root / CONFIG})
    assert (config.functions_config, config.port) == (root / CONFIG, 9000)


def test_a_functions_flag_wins_over_a_functions_config_in_the_file(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(files(extra={"src/hello.py": "def on_request(context):\n    return 'hi'\n"}))
    (root / "pagesfn.toml").write_text(f'functions-config = "{CONFIG}"\n')
    monkeypatch.chdir(root)
    config = load_config(root, {"functions": "src"})
    assert (config.functions_config, config.functions, config.port) == (None, root / "src", 8788)
    # And the other way round: the flag naming the config file wins over `functions`.
    (root / "pagesfn.toml").write_text('functions = "src"\n')
    config = load_config(root, {"functions_config": CONFIG})
    assert (config.functions_config, config.port) == (root / CONFIG, 9000)


@pytest.mark.parametrize(
    ("toml", "overrides"),
    [
        (f'functions = "src"\nfunctions-config = "{CONFIG}"\n', {}),
        ("", {"functions": "src", "functions_config": CONFIG}),
    ],
    ids=["pagesfn.toml", "flags"],
)
def test_a_functions_folder_and_a_functions_config_in_one_place_is_an_error(
    project: Project, monkeypatch: pytest.MonkeyPatch, toml: str, overrides: dict[str, Any]
) -> None:
    root = project(files(extra={"src/hello.py": "x = 1\n"}))
    (root / "pagesfn.toml").write_text(toml)
    monkeypatch.chdir(root)
    with pytest.raises(ConfigError, match="both say what to serve; keep one"):
        load_config(root, overrides)


def test_logging_to_a_folder_again_closes_the_file_it_replaces(tmp_path: Path) -> None:
    # An app built twice in one process (tests, an AWS Lambda environment reused) must not
    # leave the first log file open behind the handler that replaced it.
    from pagesfn.serving.logs import log_to_folder

    loggers = [logging.getLogger(name) for name in ("pagesfn", "uvicorn")]
    before = {logger.name: list(logger.handlers) for logger in loggers}
    first = log_to_folder(tmp_path / "one")
    try:
        second = log_to_folder(tmp_path / "two")
        assert first.closed and not second.closed
        logging.getLogger("pagesfn").warning("after the second")
        assert "after the second" in (tmp_path / "two" / "pagesfn.log").read_text()
    finally:
        for logger in loggers:
            for handler in [h for h in logger.handlers if h not in before[logger.name]]:
                logger.removeHandler(handler)
                handler.close()
        second.close()


def test_intercept_output_on_the_command_line_names_the_log_flags(project: Project) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(project(ROUTE_FILES), {"intercept_output": True})
    assert "`--intercept-output` is on but there is no log folder" in str(raised.value)
    assert "`--logDirname=DIR`" in str(raised.value)


def test_the_pagesfn_toml_keys(project: Project) -> None:
    root = project(files())
    (root / "pagesfn.toml").write_text(
        'extended-context-header = "X-My-Context"\nlog-dir = "logs"\nintercept-output = true\n'
    )
    config = load_config(root)
    assert config.extended_context_header == "X-My-Context"
    assert config.log_dir == root / "logs"  # relative to the file's folder
    assert config.intercept_output is True
    assert config.pages_options()["extended_context_header"] == "X-My-Context"
    # The snake_case spelling is the same key.
    (root / "pagesfn.toml").write_text('extended_context_header = "X-Other"\nlog_dir = "/tmp/x"\n')
    config = load_config(root)
    assert (config.extended_context_header, config.log_dir) == ("X-Other", Path("/tmp/x"))


def test_intercept_output_without_a_log_folder_is_a_config_error(project: Project) -> None:
    root = project(ROUTE_FILES)
    (root / "pagesfn.toml").write_text("intercept-output = true\n")
    with pytest.raises(ConfigError) as raised:
        load_config(root)
    message = str(raised.value)
    assert "`intercept-output` is on but there is no log folder" in message
    assert "pagesfn.toml" in message
    # A log folder from the command line is enough.
    assert load_config(root, {"log_dir": root / "logs"}).intercept_output is True


def test_bad_values_of_the_new_keys_are_each_named(project: Project) -> None:
    root = project(files())
    (root / "pagesfn.toml").write_text(
        'extended-context-header = "not a header"\nintercept-output = "yes"\nfunctions-config = 3\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_config(root)
    message = str(raised.value)
    assert "`extended-context-header` must be a header name" in message
    assert '`intercept-output` must be a boolean (true or false), not "yes"' in message
    assert "`functions-config` must be a path" in message


# -- the command line -------------------------------------------------------------------------


ORIGINAL_FLAGS = [
    "--logDirname={logs}",
    "--interceptOutput=true",
    "--extendedContextKey=X-My-Context",
    "--functionsConfigFile={config}",
]
KEBAB_FLAGS = [
    "--log-dir={logs}",
    "--intercept-output=true",
    "--extended-context-key=X-My-Context",
    "--functions-config={config}",
]


@pytest.mark.parametrize("flags", [ORIGINAL_FLAGS, KEBAB_FLAGS], ids=["original", "kebab-case"])
def test_the_flags_in_their_flag_equals_value_form(
    cli, project: Project, no_server: list[dict[str, Any]], flags: list[str]
) -> None:
    # A functions folder too: only the flag makes the file route the project.
    root = project(files(extra={"functions/hello.py": "x = 1\n"}))
    logs = root.parent / "logs"
    port = free_port()
    args = [flag.format(logs=logs, config=root / CONFIG) for flag in flags]
    result = cli("serve", root, f"--port={port}", *args)
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert call["port"] == port
    assert call["reload"] is False
    config = given_config("serve")
    assert config.functions_config == root / CONFIG
    assert config.log_dir == logs
    assert config.intercept_output is True
    assert config.extended_context_header == "X-My-Context"
    assert config.port == port


def test_intercept_output_false_is_accepted(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project(files())
    result = cli("serve", root, f"--port={free_port()}", "--interceptOutput=false")
    assert result.exit_code == 0, result.output
    config = given_config("serve")
    assert (config.intercept_output, config.log_dir) == (False, Path("/tmp/logs"))
    assert config.functions_config == root / CONFIG  # found by itself


@pytest.mark.parametrize("mode", ["serve", "dev"])
@pytest.mark.parametrize("flag", ["--interceptOutput=true", "--intercept-output=true"])
def test_intercept_output_without_a_log_dir_fails_to_start(
    cli, project: Project, no_server: list[dict[str, Any]], mode: str, flag: str
) -> None:
    root = project(ROUTE_FILES)
    line = one_line(cli(mode, root, f"--port={free_port()}", flag))
    assert "`--intercept-output` is on but there is no log folder" in line
    assert "log-dir" in line
    assert no_server == []


def test_an_intercept_output_that_is_no_boolean_is_a_usage_error(cli, project: Project) -> None:
    root = project(files())
    result = cli("serve", root, "--interceptOutput=maybe")
    assert result.exit_code == 2
    assert "--interceptOutput" in result.output
    assert "'maybe' is not a valid boolean" in result.output


def test_an_extended_context_key_that_is_no_header_name_fails(cli, project: Project) -> None:
    root = project(files())
    line = one_line(cli("serve", root, "--extendedContextKey=bad key"))
    assert "`--extended-context-header` must be a header name" in line


def test_dev_watches_the_config_files_folder(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    root = project(files())
    result = cli("dev", root, f"--port={free_port()}")
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert call["reload"] is True
    assert call["reload_dirs"] == [str(root)]


def test_dev_watches_a_functions_root_outside_the_config_files_folder(
    cli, project: Project, no_server: list[dict[str, Any]]
) -> None:
    config = {**FUNCTIONS, "functionsRoot": "../src"}
    layout = {f"src/{name}": text for name, text in files().items() if name != CONFIG}
    root = project({**layout, f"conf/{CONFIG}": json.dumps(config)})
    result = cli(
        "dev", root, f"--port={free_port()}", "--functionsConfigFile", root / "conf" / CONFIG
    )
    assert result.exit_code == 0, result.output
    [call] = no_server
    assert call["reload_dirs"] == [str(root / "conf"), str(root / "src")]


# -- start-up errors ------------------------------------------------------------------------

CONFLICT = {
    **FUNCTIONS,
    "routes": [
        {"functionName": "shop", "path": "/api/shop"},
        {"functionName": "default", "path": "/api/user/"},
    ],
}
MISSING = {**FUNCTIONS, "routes": [{"functionName": "ghost", "path": "/ghost"}]}
NO_DIRECTORY = {
    **FUNCTIONS,
    "functions": [*FUNCTIONS["functions"], {"name": "order", "directory": "order"}],
}
NO_TARGET = {
    **FUNCTIONS,
    "functions": [*FUNCTIONS["functions"], {"name": "t", "directory": "user", "target": "nope"}],
}

#: A config that cannot be served, and what the one-line message must say.
BROKEN = {
    "route conflict": (
        CONFLICT,
        ["Route conflict: `/api/user` is claimed by the functions `user`", "`default`"],
    ),
    "missing function": (MISSING, ["Function ghost not found: ", "calls it", "does not define"]),
    "missing directory": (
        NO_DIRECTORY,
        ["Function order not found: the directory", "does not exist"],
    ),
    "missing target": (
        NO_TARGET,
        ["Function t not found: user/index.py does not define", "`nope`"],
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_serve_routes_and_check_refuse_a_config_that_cannot_be_served(
    cli, project: Project, no_server: list[dict[str, Any]], name: str
) -> None:
    config, expected = BROKEN[name]
    root = project(files(config))
    for args in (["serve", root, f"--port={free_port()}"], ["routes", root]):
        line = one_line(cli(*args))
        assert line.startswith("pagesfn: the functions config has 1 problem: ")
        assert str(root / CONFIG) in line
        for text in expected:
            assert text in line
    assert no_server == []
    checked = cli("check", root)
    assert checked.exit_code == 3
    assert all(text in checked.stderr for text in expected)


def test_a_missing_config_file_is_named(cli, project: Project) -> None:
    root = project(files())
    line = one_line(cli("serve", root, "--functionsConfigFile", root / "nope.json"))
    assert f"{root / 'nope.json'}: cannot be read" in line


@pytest.mark.parametrize("name", ["route conflict", "missing function"])
def test_serve_exits_at_once_with_status_3(project: Project, tmp_path: Path, name: str) -> None:
    config, expected = BROKEN[name]
    root = project(files(config))
    started = time.monotonic()
    result = exited("serve", root, f"--port={free_port()}", cwd=tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("pagesfn: the functions config has 1 problem")
    for text in expected:
        assert text in line


# -- routes and check -----------------------------------------------------------------------


def test_routes_lists_each_function_route(cli, project: Project) -> None:
    root = project(files())
    result = cli("routes", root)
    assert result.exit_code == 0, result.output
    assert table(result.stdout) == [
        ("/api/shop/*", "*", "shop/index.py", "function `shop`: WSGI app"),
        ("/api/user/*", "*, WEBSOCKET", "user/index.py", "function `user`: main(event, context)"),
        ("/boom/*", "*, WEBSOCKET", "boom/index.py", "function `boom`: main(event, context)"),
        ("/*", "*, WEBSOCKET", "index.py", "function `default`: main(event, context)"),
    ]
    as_json = cli("routes", root, "--json")
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert [row["pattern"] for row in rows] == ["/api/shop/*", "/api/user/*", "/boom/*", "/*"]
    assert rows[1]["methods"] == ["*", "WEBSOCKET"]
    assert rows[1]["kind"] == "function `user`: main(event, context)"


def test_routes_tells_asgi_apps_and_functions_that_fail_to_load(cli, project: Project) -> None:
    config = {
        "functions": [
            {"name": "fast", "directory": "fast", "triggerPath": "/fast"},
            {"name": "raw", "directory": "raw", "target": "app", "triggerPath": "/raw"},
            {"name": "broken", "directory": "broken", "triggerPath": "/broken"},
            {"name": "async", "directory": "async", "triggerPath": "/v1/async"},
        ]
    }
    root = project(
        {
            CONFIG: json.dumps(config),
            "fast/index.py": "from fastapi import FastAPI\n\nmain = FastAPI()\n",
            "raw/index.py": "async def app(scope, receive, send):\n    pass\n",
            "broken/index.py": "import pagesfn_no_such_module\n\nmain = None\n",
            "async/index.py": "async def main(event, context):\n    return event\n",
        }
    )
    result = cli("routes", root, "--functionsConfigFile", root / CONFIG)
    assert result.exit_code == 0, result.output
    rows = {row[0]: row[1:] for row in table(result.stdout)}
    assert rows["/fast/*"] == ("*, WEBSOCKET", "fast/index.py", "function `fast`: ASGI app")
    assert rows["/raw/*"] == ("*, WEBSOCKET", "raw/index.py", "function `raw`: ASGI app")
    assert rows["/v1/async/*"][2] == "function `async`: main(event, context)"
    broken = rows["/broken/*"][2]
    assert broken.startswith("function `broken` (fails to load: ")
    assert "pagesfn_no_such_module" in broken
    assert list(rows) == ["/broken/*", "/fast/*", "/raw/*", "/v1/async/*"]  # by segment


def test_check_imports_every_function(cli, project: Project) -> None:
    root = project(files())
    result = cli("check", root)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 4 routes, 0 middleware\n"
    assert result.stderr == ""


def test_check_lists_a_function_that_fails_to_import_and_one_without_a_route(
    cli, project: Project
) -> None:
    config = {
        **FUNCTIONS,
        "functions": [*FUNCTIONS["functions"], {"name": "lonely", "directory": "lonely"}],
    }
    root = project(
        files(
            config,
            {
                "user/index.py": "import pagesfn_no_such_module\n\nmain = None\n",
                "lonely/index.py": "def main(event, context):\n    return 1\n",
            },
        )
    )
    result = cli("check", root)
    assert result.exit_code == 1
    assert "function `lonely` has no route" in result.stderr
    assert "1 module(s) failed to load:" in result.stderr
    assert "user/index.py: failed to import" in result.stderr
    assert "pagesfn_no_such_module" in result.stderr


# -- scf_bootstrap --------------------------------------------------------------------------


def test_bootstrap_scf_names_the_functions_config(cli, tmp_path: Path) -> None:
    result = cli("bootstrap", "scf", tmp_path, "--functions-config", CONFIG)
    assert result.exit_code == 0, result.output
    script = tmp_path / "scf_bootstrap"
    assert os.access(script, os.X_OK)
    # The flags of CloudBase's functions framework, as its documents write them.
    command = script.read_text().split("exec ", 1)[1]
    assert " ".join(command.replace("\\\n", " ").split()) == (
        '"${PAGESFN_PYTHON:-python3}" -m pagesfn serve . --host 0.0.0.0 --port=9000 '
        "--logDirname=/tmp/logs --interceptOutput=false "
        f"--extendedContextKey=X-Cloudbase-Context --functionsConfigFile={CONFIG}"
    )
    forced = cli(
        "bootstrap", "scf", tmp_path, "--functions-config", "conf/my functions.json", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert script.read_text().rstrip().endswith("--functionsConfigFile='conf/my functions.json'")


def test_bootstrap_scf_finds_the_projects_functions_config(cli, project: Project) -> None:
    root = project(files())
    assert cli("bootstrap", "scf", root).exit_code == 0
    assert f"--functionsConfigFile={CONFIG}" in (root / "scf_bootstrap").read_text()
    # A functions folder wins over the file, as in `pagesfn serve`: the one pagesfn.toml
    # names too.
    tree = project(ROUTE_FILES)
    assert cli("bootstrap", "scf", tree).exit_code == 0
    assert (tree / "scf_bootstrap").read_text().rstrip().endswith("--host 0.0.0.0 --port 9000")
    named = project(files(extra={"pagesfn.toml": 'functions = "src"\n', "src/hello.py": HELLO}))
    assert cli("bootstrap", "scf", named).exit_code == 0
    assert "--functionsConfigFile" not in (named / "scf_bootstrap").read_text()


def test_the_scf_bootstrap_of_a_config_routed_project_answers(
    cli, project: Project, tmp_path: Path
) -> None:
    # A functions folder too: the script's --functions-config is what routes by the file.
    root = project(
        files(extra={"functions/hello.py": "def on_request(context):\n    return 'tree'\n"})
    )
    port = free_port()
    result = cli("bootstrap", "scf", root, "--port", str(port), "--functions-config", CONFIG)
    assert result.exit_code == 0, result.output
    script = root / "scf_bootstrap"
    log = tmp_path / "scf.log"
    env = {**environment(), "PAGESFN_PYTHON": sys.executable}
    with log.open("wb") as sink:
        # Started the way the platform starts it: by path, from another folder.
        process = subprocess.Popen(
            [str(script)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        user = wait_for(lambda: server.get("/api/user/scf?a=1"), server, timeout=STARTUP_TIMEOUT)
        assert user.status_code == 200, user.text
        assert user.json() == {
            "function": "user",
            "url": "/api/user/scf?a=1",
            "method": "GET",
            "event": {"a": "1"},
            "version": 1,
        }
        # Routed by the file, not the folder: the default function answers /hello.
        fallback = server.get("/hello")
        assert status_and_json(fallback)[1]["function"] == "default"
        shop = server.get("/api/shop/profile")
        assert status_and_json(shop) == (200, {"path": "/profile", "script_root": "/api/shop"})
        assert server.stop(signal.SIGTERM, STOP_TIMEOUT) in (0, -signal.SIGTERM)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


# -- real servers ---------------------------------------------------------------------------


def test_serve_with_the_original_flags_logs_to_the_folder_and_intercepts_output(
    project: Project, tmp_path: Path
) -> None:
    root = project(files())
    logs = tmp_path / "logs"
    flags = [
        f"--logDirname={logs}",
        "--interceptOutput=true",
        "--extendedContextKey=X-My-Context",
        f"--functionsConfigFile={root / CONFIG}",
        "--access-log",
    ]
    with running("serve", root, *flags, cwd=tmp_path) as server:
        user = server.get("/api/user/profile?x=1")
        assert status_and_json(user) == (
            200,
            {
                "function": "user",
                "url": "/api/user/profile?x=1",
                "method": "GET",
                "event": {"x": "1"},
                "version": 1,
            },
        )
        posted = httpx.post(server.url + "/api/user/", json={"name": "Ada"}, timeout=5)
        assert status_and_json(posted)[1]["event"] == {"name": "Ada"}
        assert posted.json()["method"] == "POST"
        # Prefixes match whole segments: /api/users is the default function's.
        other = server.get("/api/users")
        assert status_and_json(other)[1]["function"] == "default"
        # The configured header is the extended context; the default one is not read.
        context = {"uid": "u-1", "env": "test"}
        extended = server.get("/", headers={"X-My-Context": json.dumps(context)})
        assert extended.json()["extended"] == context
        ignored = server.get("/", headers={"X-Cloudbase-Context": json.dumps(context)})
        assert ignored.json()["extended"] is None
        shop = server.get("/api/shop/profile")
        assert status_and_json(shop) == (200, {"path": "/profile", "script_root": "/api/shop"})
        boom = server.get("/boom")
        assert (boom.status_code, boom.text) == (500, "Internal Server Error")

        wait_for(
            lambda: text_of(logs / "pagesfn.log"),
            server,
            lambda text: "GET /boom 500" in text and "boom from a config function" in text,
        )
        # The probe of `running` asked for / once before.
        output = wait_for(
            lambda: text_of(logs / "output.log"),
            server,
            lambda text: text.count("printed by the default function for /\n") == 3,
        )
        assert "printed by the default function for /api/users\n" in output
        status = server.stop(signal.SIGTERM, STOP_TIMEOUT)
        assert status in (0, -signal.SIGTERM), server.output()

    log = text_of(logs / "pagesfn.log")
    # uvicorn's lines, pagesfn's own and the request log, all in the folder's file.
    assert "INFO uvicorn.error: Started server process" in log
    assert "ERROR pagesfn:" in log
    assert "GET /api/user/profile?x=1 200" in log
    assert "user/index.py" in log
    assert "\x1b[" not in log  # no colour codes in a file
    console = server.output()
    # ... and on the console still, but for what the functions printed.
    assert "Started server process" in console
    assert "GET /api/user/profile?x=1 200" in console
    assert "boom from a config function" in console
    assert "printed by the default function" not in console


def test_serve_with_a_log_folder_leaves_output_on_the_console(
    project: Project, tmp_path: Path
) -> None:
    root = project(files())
    logs = tmp_path / "logs"
    flags = [f"--logDirname={logs}", "--interceptOutput=false"]
    with running("serve", root, *flags, cwd=tmp_path) as server:
        response = server.get("/about?x=1", headers={"X-Cloudbase-Context": '{"a": 1}'})
        assert status_and_json(response) == (
            200,
            {"function": "default", "url": "/about?x=1", "extended": {"a": 1}},
        )
        wait_for(
            server.output, server, lambda text: "printed by the default function for /about" in text
        )
        wait_for(lambda: text_of(logs / "pagesfn.log"), server, lambda t: "Started server" in t)
    assert not (logs / "output.log").exists()
    assert "GET /about" not in text_of(logs / "pagesfn.log")  # no request log unless asked
    assert "printed by" not in text_of(logs / "pagesfn.log")


def test_dev_reloads_an_edited_function_and_an_edited_config(
    project: Project, tmp_path: Path
) -> None:
    root = project(files())
    with running("dev", root, cwd=tmp_path) as server:
        assert f"Will watch for changes in these directories: [{str(root)!r}]" in server.output()
        assert server.get("/api/user/a").json()["version"] == 1
        assert server.get("/v1/user/a").json()["function"] == "default"

        user = root / "user" / "index.py"
        user.write_text(user.read_text().replace('"version": 1', '"version": 2'))
        # (.get: a request during the restart may meet a file half written.)
        wait_for(lambda: server.get("/api/user/a").json().get("version"), server, (2).__eq__)

        # A route added to the config is served without a restart by hand.
        route = {"functionName": "user", "path": "/v1/user"}
        added = {**FUNCTIONS, "routes": [*FUNCTIONS["routes"], route]}
        set_config(root, added)
        moved = wait_for(
            lambda: server.get("/v1/user/a").json(), server, lambda b: b.get("function") == "user"
        )
        assert moved["url"] == "/v1/user/a"

        # A conflict breaks the config until it is fixed, saying what is wrong.
        set_config(root, CONFLICT)
        broken = wait_for(lambda: server.get("/api/user/a"), server, lambda r: r.status_code == 500)
        assert "Route conflict: " in broken.json()["detail"]
        set_config(root, added)
        back = wait_for(lambda: server.get("/v1/user/b"), server, lambda r: r.status_code == 200)
        assert back.json()["function"] == "user"
        status = server.stop(signal.SIGINT, STOP_TIMEOUT)
        assert status in (0, -signal.SIGINT), server.output()
    assert "WatchFiles detected changes" in server.output()


def test_dev_with_a_log_folder_in_the_project_does_not_restart_itself(
    project: Project, tmp_path: Path
) -> None:
    root = project(files())
    logs = root / "logs"
    with running("dev", root, f"--logDirname={logs}", cwd=tmp_path) as server:
        assert server.get("/api/user/a").status_code == 200
        time.sleep(3)  # time for the watcher to notice the log lines
        output = server.output()
    assert "Reloading" not in output
    assert output.count("Started server process") == 1


VISITS = """
    async def main(event, context):
        visits = context.env["VISITS"]
        count = int(await visits.get("count") or 0) + 1
        await visits.put("count", str(count))
        return {"visits": count}
"""


def test_dev_with_a_kv_binding_does_not_restart_itself(project: Project, tmp_path: Path) -> None:
    root = project(
        {**files(extra={"visits/index.py": VISITS}), "pagesfn.toml": "[kv]\nVISITS = {}\n"}
    )
    config = {
        **FUNCTIONS,
        "functions": [
            *FUNCTIONS["functions"],
            {"name": "visits", "directory": "visits", "triggerPath": "/visits"},
        ],
    }
    set_config(root, config)
    with running("dev", root, cwd=tmp_path) as server:
        assert server.get("/visits").json() == {"visits": 1}
        time.sleep(3)  # time for the watcher to notice the writes
        output = server.output()
    assert "Reloading" not in output
    assert output.count("Started server process") == 1

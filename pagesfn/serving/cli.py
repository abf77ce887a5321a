"""The ``pagesfn`` command: a thin shim over :func:`pagesfn.run`, :class:`pagesfn.Pages` and
:func:`pagesfn.serving.config.load_config`."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..adapters.detect import AppKind
from ..engine.limits import LIMITS, LimitSpec
from ..errors import HandlerLoadError, PagesError, RouteWarning
from ..routing import ANY, WEBSOCKET, Route, RouteKind
from ..routing.table import allow_header_methods

if TYPE_CHECKING:
    from ..app import Pages

#: The exit status of a command that could not start (bad config, broken tree).
STARTUP_FAILURE = 3

_project = click.argument(
    "project", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
_config_file = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The config file (default: PROJECT/pagesfn.toml, or [tool.pagesfn] in pyproject.toml).",
)
_functions = click.option(
    "--functions", type=click.Path(path_type=Path), help="The functions folder [functions]."
)
_functions_config = click.option(
    "--functions-config",
    "--functionsConfigFile",
    "functions_config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Route by a cloudbase-functions.json instead of a folder (found by itself when "
    "the project has one and no functions folder); the port is then 9000.",
)


#: What ``click.option(...)`` returns: a decorator adding the option to a command.
_Option = Callable[[Callable[..., Any]], Callable[..., Any]]


def _limit_options() -> list[_Option]:
    """A flag per limit (``--max-body-size``...), made from :data:`LIMITS`."""
    types: dict[str, Any] = {"bytes": str, "seconds": float, "count": int}
    return [
        click.option(
            "--" + spec.name.replace("_", "-"),
            type=types[spec.unit],
            help=f"{spec.help} (0: none) [{_shown(spec)}].",
        )
        for spec in LIMITS
    ]


def _shown(spec: LimitSpec) -> str:
    """A limit's default as ``--help`` shows it: ``6MiB``, ``30``, ``1000``."""
    value = spec.default
    if value is None:
        return "none"
    if spec.unit == "bytes":
        for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
            if value >= size and value % size == 0:
                return f"{int(value) // size}{unit}"
    return f"{value:g}"


def _server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options: list[_Option] = [
        _project,
        _config_file,
        _functions,
        _functions_config,
        click.option("--public", type=click.Path(path_type=Path), help="Static assets [public]."),
        click.option("--origin", help="Proxy what nothing else answers to this URL."),
        click.option(
            "--env-file",
            "env_files",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="Values for context.env (repeatable) [.env, .dev.vars].",
        ),
        click.option("--host", help="Bind to this address [127.0.0.1]."),
        click.option("--port", type=int, help="Bind to this port [8788]."),
        click.option(
            "--server",
            type=click.Choice(["uvicorn", "granian"]),
            help="The HTTP server; granian needs the granian package [uvicorn].",
        ),
        click.option("--spa/--no-spa", default=None, help="Serve /index.html for missing pages."),
        click.option(
            "--log-format", type=click.Choice(["text", "json"]), help="The request log's form."
        ),
        click.option(
            "--log-dir",
            "--logDirname",
            "log_dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Also write the log to DIR/pagesfn.log.",
        ),
        click.option(
            "--intercept-output",
            "--interceptOutput",
            "intercept_output",
            type=click.BOOL,
            help="true: what functions print goes to LOG_DIR/output.log [false].",
        ),
        click.option(
            "--head-timeout",
            type=float,
            help="Seconds to send a request head, 408 past it (0: none) [15].",
        ),
        *_limit_options(),
        click.option(
            "--watch",
            "watch",
            multiple=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Also restart on changes in DIR (repeatable): a mounted app's source.",
        ),
        click.option(
            "--allow-remote-debug",
            is_flag=True,
            default=None,
            help="Serve debug pages on a non-loopback host (they show code and paths).",
        ),
        click.option(
            "--extended-context-key",
            "--extendedContextKey",
            "extended_context_header",
            help="The header whose JSON is context.extendedContext [X-Cloudbase-Context].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
@click.version_option(package_name="pagesfn")
def main() -> None:
    """File-routed Python functions: one folder of route files, served as ASGI and WSGI."""


@main.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Write a working project into DIRECTORY (never over existing files)."""
    from .scaffold import init_project

    with _startup():
        written = init_project(directory)
    for path in written:
        click.echo(f"  created {path}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    click.echo(f"\nNext: {where}pagesfn dev")


@main.group()
def bootstrap() -> None:
    """Write the start-up file a hosting platform runs."""


@bootstrap.command("scf")
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--port", type=int, default=9000, show_default=True, help="The port to serve on.")
@click.option("--config", "config_file", help="A config file for `pagesfn serve --config`.")
@click.option(
    "--functions-config",
    help="A cloudbase-functions.json to route by (found by itself when the project has one "
    "and no functions folder).",
)
@click.option("--force", is_flag=True, help="Replace an existing scf_bootstrap.")
def bootstrap_scf(
    directory: Path,
    port: int,
    config_file: str | None,
    functions_config: str | None,
    force: bool,
) -> None:
    """Write DIRECTORY/scf_bootstrap, which Tencent Cloud web functions run to start the
    project (`pagesfn serve` on port 9000)."""
    from .scaffold import write_scf_bootstrap

    with _startup():
        path = write_scf_bootstrap(
            directory,
            port=port,
            config_file=config_file,
            functions_config=functions_config,
            force=force,
        )
    click.echo(f"  created {path}")
    click.echo("Deploy the project folder with its dependencies (pip install -r ... -t .).")


@main.command()
@_server_options
@click.option("--reload/--no-reload", default=None, help="Restart on file changes [on].")
def dev(project: Path, config_file: Path | None, **options: Any) -> None:
    """Serve PROJECT for development: debug pages, hot reload, a request log."""
    _serve(project, "dev", config_file, options)


@main.command()
@_server_options
@click.option("--workers", type=int, help="Processes to serve with [1].")
@click.option("--access-log/--no-access-log", default=None, help="Log every request [off].")
def serve(project: Path, config_file: Path | None, **options: Any) -> None:
    """Serve PROJECT in production: no debug, no reload, N worker processes."""
    _serve(project, "serve", config_file, options)


@main.command()
@_project
@_config_file
@_functions
@_functions_config
@click.option("--json", "as_json", is_flag=True, help="The table as JSON.")
@click.option("--routes-json", is_flag=True, help="A _routes.json for the tree.")
@click.option("--openapi", is_flag=True, help="An OpenAPI 3.1 document of the tree.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it to FILE.")
def routes(
    project: Path,
    config_file: Path | None,
    as_json: bool,
    routes_json: bool,
    openapi: bool,
    output: Path | None,
    **tree: Path | None,
) -> None:
    """List the routes of PROJECT in precedence order."""
    with _startup(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RouteWarning)
        pages = _pages(project, config_file, tree)
    try:
        if openapi:
            title = os.path.basename(os.path.abspath(project)) or "pagesfn"
            text = json.dumps(pages.openapi(title=title), indent=2) + "\n"
            if output is None:
                click.echo(text, nl=False)
            else:
                output.write_text(text, encoding="utf-8")
        elif routes_json:
            click.echo(json.dumps(pages.routes_json(), indent=2))
        elif as_json:
            click.echo(json.dumps([_describe(pages, route) for route in _all(pages)], indent=2))
        else:
            _print_table([_describe(pages, route) for route in _all(pages)])
    finally:
        pages.close()
        pages.loader.unload()


@main.command()
@_project
@_config_file
@_functions
@_functions_config
def check(project: Path, config_file: Path | None, **tree: Path | None) -> None:
    """Import every module of PROJECT and list every problem (exit status 1 if any)."""
    with _startup(one_line=False), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RouteWarning)
        pages = _pages(project, config_file, tree)
    try:
        failures = pages.load_all()
    finally:
        pages.close()
        pages.loader.unload()
    notes = [str(w.message) for w in caught if issubclass(w.category, RouteWarning)]
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    if failures:
        click.echo(f"{len(failures)} module(s) failed to load:", err=True)
        for failure in failures:
            click.echo(f"  - {failure}", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(pages.routes)} routes, {len(pages.table.middleware)} middleware")


# -- helpers ----------------------------------------------------------------------------


def _serve(project: Path, mode: str, config_file: Path | None, options: dict[str, Any]) -> None:
    from .server import run

    for key in ("env_files", "watch"):
        if options.get(key) == ():
            options[key] = None  # not given: keep the file's or the default
    status = 0
    try:
        with _startup():
            run(project, mode=mode, config_file=config_file, **options)
    except KeyboardInterrupt:
        status = 130  # Ctrl-C, once the server has shut down
    _leave(status)


def _leave(status: int) -> None:
    """End the command once the server has stopped.

    Requests in flight and ``wait_until`` work had their ``shutdown_timeout``; a sync
    handler still running in a pool thread past it would keep the interpreter waiting at
    exit (it joins those threads) for as long as the handler runs. The process ends now.
    """
    main = threading.main_thread()
    if any(not thread.daemon and thread is not main for thread in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    if status:
        sys.exit(status)


def _pages(project: Path, config_file: Path | None, overrides: dict[str, Any]) -> Pages:
    from ..app import Pages
    from .config import load_config

    config = load_config(project, overrides, config_file=config_file)
    return Pages(**config.pages_options())


@contextmanager
def _startup(one_line: bool = True) -> Iterator[None]:
    try:
        yield
    except PagesError as exc:
        _fail(exc, one_line)
    except OSError as exc:  # a port in use, a folder that cannot be read
        _fail(exc, one_line)


def _fail(exc: BaseException, one_line: bool) -> NoReturn:
    text = str(exc).strip()
    if one_line:
        lines = [line.strip(" -") for line in text.splitlines() if line.strip()]
        text = lines[0] if lines else ""
        for line in lines[1:]:
            text += (" " if text.endswith(":") else "; ") + line
    click.echo(f"pagesfn: {text}", err=True)
    sys.exit(STARTUP_FAILURE)


def _all(pages: Pages) -> list[Route]:
    return [*pages.table.middleware, *pages.routes]


def _describe(pages: Pages, route: Route) -> dict[str, Any]:
    pattern = route.pattern
    if route.kind is RouteKind.MIDDLEWARE:
        kind = "middleware"
        methods = sorted(route.handlers)
        pattern = pattern.rstrip("/") + "/*"  # everything under its folder
    elif route.kind is RouteKind.FUNCTION:
        # A prefix: everything under it, as for middleware.
        pattern = route.pattern.removesuffix(f"[[{route.segments[-1].value}]]") + "*"
        methods = [ANY, WEBSOCKET]
        try:
            mount = pages.loader.endpoint(route).mount
        except HandlerLoadError as exc:
            kind = f"function `{route.function}` (fails to load: {exc})"
        else:
            what = "main(event, context)" if mount is None else mount.kind.label
            kind = f"function `{route.function}`: {what}"
            if mount is not None and mount.kind is AppKind.WSGI:
                methods = [ANY]  # a WSGI app takes no WebSocket
    elif route.kind is RouteKind.APP:
        try:
            mount = pages.loader.endpoint(route).mount
        except HandlerLoadError as exc:
            kind = f"app (fails to load: {exc})"
        else:
            kind = f"{mount.kind.label}" if mount is not None else "app"
        methods = [ANY]
    else:
        kind = "handler"
        http = [method for method in route.handlers if method != WEBSOCKET]
        if ANY in route.handlers:
            methods = [ANY]
        else:
            methods = list(allow_header_methods(http)) if http else []
        if WEBSOCKET in route.handlers:
            methods.append(WEBSOCKET)
    return {
        "pattern": pattern,
        "methods": methods,
        "file": route.file,
        "kind": kind,
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no routes")
        return
    table = [(r["pattern"], ", ".join(r["methods"]), r["file"], r["kind"]) for r in rows]
    header = ("PATTERN", "METHODS", "FILE", "KIND")
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(4)]
    for row in [header, *table]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


if __name__ == "__main__":  # pragma: no cover
    main()

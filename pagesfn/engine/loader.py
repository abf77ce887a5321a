"""Import route modules (lazily by default) and pick their handlers."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import os
import re
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ..adapters import mounted as _mounted
from ..adapters.detect import Declared, DetectionError
from ..adapters.mounted import MountedApp
from ..errors import HandlerLoadError, kept
from ..routing import ANY, Route, RouteKind
from .cloudbase import function_handlers, is_function
from .handler import Handler
from .worker import collecting_listeners, fetch_handler

_package_ids = itertools.count()
_NO_HANDLERS: Mapping[str, Handler] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route with its module imported and its handlers resolved."""

    route: Route
    handlers: Mapping[str, Handler]
    mount: MountedApp | None = None

    def handler_for(self, method: str) -> Handler:
        handlers = self.handlers
        found = handlers.get(method)
        if found is None and method == "HEAD":
            found = handlers.get("GET")
        if found is None:
            found = handlers[ANY]
        return found


@dataclass(frozen=True, slots=True)
class Middleware:
    """A ``_middleware.py`` imported: for each method key, the handlers it runs in order."""

    route: Route
    handlers: Mapping[str, tuple[Handler, ...]]

    def handlers_for(self, method: str) -> tuple[Handler, ...]:
        handlers = self.handlers
        found = handlers.get(method)
        if found is None and method == "HEAD":
            found = handlers.get("GET")
        if found is None:
            found = handlers.get(ANY, ())
        return found


def _exported(file: str, module: types.ModuleType, name: str) -> Any:
    value = getattr(module, name, None)
    if value is None:
        raise HandlerLoadError(
            file,
            f"`{name}` is in the source but not in the module after import; "
            "define it unconditionally at module level",
        )
    return value


def _handler(file: str, name: str, fn: Any) -> Handler:
    if not callable(fn):
        fn_name = name if name.isidentifier() else "handler"
        raise HandlerLoadError(
            file,
            f"`{name}` is {_a(type(fn).__name__)}, not a function; define it as "
            f"`def {fn_name}(context):` or `async def {fn_name}(context):`",
        )
    return Handler.of(fn, name)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _module_part(name: str) -> str:
    return re.sub(r"\W", "_", name) or "_"


class ModuleLoader:
    """Owns the route modules of one functions tree.

    The tree is imported as a synthetic package, so route modules can import their own
    helpers relatively (``from ._db import connect``) and can be unloaded as a whole.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.package = f"_pagesfn_routes_{next(_package_ids)}"
        self._lock = threading.RLock()
        self._endpoints: dict[str, Any] = {}
        # Each failure as :func:`kept` keeps it, to raise again.
        self._failures: dict[str, tuple[HandlerLoadError, TracebackType | None]] = {}
        self._names: dict[str, str] = {}  # module name -> file, to keep names unique
        self._modules: dict[str, types.ModuleType] = {}  # file -> its module, imported once
        #: Called when the modules are forgotten: what holds their functions forgets them.
        self.on_unload: list[Callable[[], None]] = []
        self._register_package(self.package, self.root)

    def endpoint(self, route: Route) -> Endpoint:
        """The loaded endpoint of ``route``; raises :class:`HandlerLoadError`."""
        key = route.load_key
        found: Endpoint | None = self._endpoints.get(key)
        if found is not None:
            return found
        return self._cached(key, lambda: self._load(route))  # type: ignore[no-any-return]

    def middleware(self, route: Route) -> Middleware:
        """The loaded ``_middleware.py`` of ``route``; raises :class:`HandlerLoadError`."""
        found: Middleware | None = self._endpoints.get(route.file)
        if found is not None:
            return found
        return self._cached(route.file, lambda: self._load_middleware(route))  # type: ignore[no-any-return]

    def worker(self, file: str) -> Handler:
        """``_worker.py`` imported, its fetch listeners wrapped into one async handler;
        raises :class:`HandlerLoadError`."""
        found: Handler | None = self._endpoints.get(file)
        if found is not None:
            return found
        return self._cached(file, lambda: self._load_worker(file))  # type: ignore[no-any-return]

    def _cached(self, file: str, load: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._endpoints.get(file)
            if found is not None:
                return found
            failure = self._failures.get(file)
            if failure is not None:
                raise failure[0].with_traceback(failure[1])
            try:
                found = load()
            except HandlerLoadError as exc:
                self._failures[file] = kept(exc)
                raise
            self._endpoints[file] = found
            return found

    def load_all(self, routes: Iterable[Route]) -> list[HandlerLoadError]:
        """Import every route now; return the failures (empty when all loaded)."""
        failures = []
        for route in routes:
            try:
                self.endpoint(route)
            except HandlerLoadError as exc:
                failures.append(exc)
        return failures

    def unload(self) -> None:
        """Forget every module of this tree, in ``sys.modules`` too."""
        with self._lock:
            prefix = self.package + "."
            for name in [n for n in sys.modules if n == self.package or n.startswith(prefix)]:
                del sys.modules[name]
            self._endpoints.clear()
            self._failures.clear()
            self._modules.clear()
            for forget in self.on_unload:
                forget()

    # -- internals -----------------------------------------------------------------------

    def _load(self, route: Route) -> Endpoint:
        if route.error is not None:
            raise HandlerLoadError(route.file, f"{route.error}; fix the file and reload")
        module = self._import(route.file)
        if route.kind is RouteKind.APP:
            return Endpoint(route, _NO_HANDLERS, self._mount(route, module))
        if route.kind is RouteKind.FUNCTION:
            return self._function(route, module)
        handlers = {
            method: _handler(route.file, name, _exported(route.file, module, name))
            for method, name in route.handlers.items()
        }
        return Endpoint(route, types.MappingProxyType(handlers))

    def _load_middleware(self, route: Route) -> Middleware:
        if route.error is not None:
            raise HandlerLoadError(route.file, f"{route.error}; fix the file and reload")
        module = self._import(route.file)
        handlers: dict[str, tuple[Handler, ...]] = {}
        for method, name in route.handlers.items():
            value = _exported(route.file, module, name)
            # A list (or tuple) of handlers runs them in order, each one's next() the next.
            if isinstance(value, (list, tuple)):
                if not value:
                    raise HandlerLoadError(
                        route.file, f"`{name}` is an empty list; list at least one handler"
                    )
                chain = tuple(
                    _handler(route.file, f"{name}[{i}]", fn) for i, fn in enumerate(value)
                )
            else:
                chain = (_handler(route.file, name, value),)
            handlers[method] = chain
        return Middleware(route, types.MappingProxyType(handlers))

    def _load_worker(self, file: str) -> Handler:
        with collecting_listeners() as listeners:
            self._import(file)
        if not listeners:
            raise HandlerLoadError(
                file,
                "registers no fetch listener; call "
                '`add_event_listener("fetch", handler)` at module level',
            )
        return Handler(fetch_handler(listeners), "fetch listener", True)

    @staticmethod
    def _function(route: Route, module: types.ModuleType) -> Endpoint:

        name = route.handlers[ANY]
        where = f"{route.file} (function `{route.function}`)"
        target = getattr(module, name, None)
        if target is None:
            raise HandlerLoadError(
                where,
                f"defines no `{name}` after import; define `def {name}(event, context):` "
                f"or `{name} = app` at module level",
            )
        if is_function(target):
            handlers = function_handlers(target, name, route.function or name)
            return Endpoint(route, types.MappingProxyType(handlers))
        if not callable(target) and not isinstance(target, Declared):
            raise HandlerLoadError(
                where,
                f"`{name}` is {_a(type(target).__name__)}; make it a function "
                f"`def {name}(event, context):` or a WSGI/ASGI app",
            )
        return Endpoint(route, _NO_HANDLERS, ModuleLoader._mount(route, module))

    @staticmethod
    def _mount(route: Route, module: types.ModuleType) -> MountedApp:
        name = route.handlers[ANY]
        obj = getattr(module, name, None)
        if obj is None:
            raise HandlerLoadError(
                route.file, f"`{name}` is in the source but not in the module after import"
            )
        try:
            return MountedApp(obj, route.file)
        except DetectionError as exc:
            raise HandlerLoadError(route.file, f"`{name}` {exc}") from None

    def _import(self, file: str) -> types.ModuleType:
        module = self._modules.get(file)
        if module is None:
            module = self._modules[file] = self._execute(file)
        return module

    def _execute(self, file: str) -> types.ModuleType:
        folders, stem = file.rsplit("/", 1) if "/" in file else ("", file)
        package = self.package
        directory = self.root
        for folder in folders.split("/") if folders else ():
            directory = os.path.join(directory, folder)
            package = self._register_package(f"{package}.{_module_part(folder)}", directory)
        name = self._unique(f"{package}.{_module_part(stem.removesuffix('.py'))}", file)
        path = os.path.join(self.root, *file.split("/"))
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise HandlerLoadError(file, "cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(name, None)
            where = _error_place(exc, path, self.root)
            raise HandlerLoadError(
                file, f"failed to import{where}: {type(exc).__name__}: {exc}"
            ) from exc
        return module

    def _unique(self, name: str, file: str) -> str:
        candidate = name
        for n in itertools.count(2):
            owner = self._names.setdefault(candidate, file)
            if owner == file:
                return candidate
            candidate = f"{name}_{n}"
        raise AssertionError("unreachable")

    def _register_package(self, name: str, directory: str) -> str:
        name = self._unique(name, directory)
        if name not in sys.modules:
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [directory]
            module = importlib.util.module_from_spec(spec)
            module.__path__ = [directory]
            sys.modules[name] = module
        return name


def _error_place(exc: BaseException, path: str, root: str) -> str:
    """Where an import of the route file at ``path`` failed: the file's line, and the file
    and line the error is at when that is another module of the project's (a mounted app's
    own package), not the standard library's, an installed package's or pagesfn's."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    inner = project_error_line(exc, installed_roots())
    if inner is not None and os.path.abspath(inner[0]) == path:
        return f" (line {inner[1]})"  # a syntax error in the route file itself
    if inner is None:
        return f" (line {line})" if line else ""
    filename = os.path.abspath(inner[0])
    shown = os.path.relpath(filename, root) if _within(filename, root) else filename
    at = f"{shown}, line {inner[1]}"
    return f" (line {line}, at {at})" if line else f" (at {at})"


def project_error_line(error: BaseException, installed: list[str]) -> tuple[str, int] | None:
    """The file and line of the project's code ``error`` is at: where a syntax error is,
    else the innermost frame of its traceback in the project's code."""
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        return error.filename, error.lineno
    place = None
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if is_project_file(filename, installed):
            place = filename, tb.tb_lineno
        tb = tb.tb_next
    return place


def installed_roots() -> list[str]:
    """The folders of the standard library and of installed packages (the environment's
    prefix included): code that is not the project's."""
    paths = sysconfig.get_paths()
    roots = [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths]
    return [os.path.realpath(root) for root in (*roots, sys.prefix, sys.base_prefix)]


#: pagesfn's own folders (the package, and its adapter layer installed beside it).
OWN_FOLDERS = tuple(
    str(folder) + os.sep
    for folder in (Path(__file__).resolve().parents[1], Path(_mounted.__file__).resolve().parent)
)


def is_own_file(filename: str) -> bool:
    """Whether ``filename`` is one of pagesfn's own."""
    return os.path.realpath(filename).startswith(OWN_FOLDERS)


def is_project_file(filename: str, installed: list[str]) -> bool:
    """Whether ``filename`` is a file of the project's (not frozen, not installed, not
    pagesfn's own)."""
    if filename.startswith("<"):
        return False
    real = os.path.realpath(filename)
    return not real.startswith(OWN_FOLDERS) and not any(_within(real, root) for root in installed)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

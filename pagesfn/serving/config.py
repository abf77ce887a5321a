"""The configuration of the ``pagesfn`` command: command-line flags over a config file over
defaults.

The config file is ``pagesfn.toml`` in the project folder, or the ``[tool.pagesfn]`` table
of its ``pyproject.toml``::

    functions = "functions"
    public = "dist"
    port = 8000
    env-files = [".env", ".env.local"]

A project routed by a ``cloudbase-functions.json`` (``functions-config``, found by itself
when the project has that file and no ``functions`` folder) is served on port 9000 unless
``port`` says otherwise, as CloudBase's functions framework serves it.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from ..engine.limits import DEFAULT_LIMITS, LIMITS, Limits, Unit, parse_size
from ..errors import Problem, ProblemsError
from ..routing.cloudbase import CONFIG_FILE as FUNCTIONS_CONFIG_FILE
from ..routing.cloudbase import EXTENDED_CONTEXT_HEADER
from .head_timeout import DEFAULT_HEAD_TIMEOUT

if sys.version_info >= (3, 11):
    import tomllib
else:
    # The unused-ignore code keeps mypy quiet whether or not tomli is installed.
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_FILE = "pagesfn.toml"
#: The port of a project routed by a ``cloudbase-functions.json``, as its framework has it.
FUNCTIONS_CONFIG_PORT = 9000
#: The log folder of such a project served by `pagesfn serve` or `dev`, as its framework
#: has it (``--logDirname``).
FUNCTIONS_CONFIG_LOG_DIR = Path("/tmp/logs")
#: Where KV bindings without a `path` keep their SQLite files, in the project folder.
KV_FOLDER = ".pagesfn/kv"
#: URL schemes of a Redis server for a KV binding.
REDIS_SCHEMES = ("redis", "rediss", "unix")
PYPROJECT_FILE = "pyproject.toml"
COMMAND_LINE = "command line"


class ConfigError(ProblemsError):
    """The configuration is invalid; ``problems`` lists every problem found, each naming
    the file (or the command line), the key and the fix."""

    code = "config"
    subject = "the configuration"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The settings of one project, as :func:`load_config` resolved them.

    Paths are absolute. ``debug``, ``reload`` and ``access_log`` are ``None`` when
    nothing set them: the command running the project decides (``dev`` turns them on,
    ``serve`` off).
    """

    project: Path
    functions: Path
    public: Path | None
    origin: str | None = None
    env_files: tuple[Path, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8788
    workers: int = 1
    #: The HTTP server: uvicorn, or Granian (the ``granian`` extra).
    server: str = "uvicorn"
    spa: bool = False
    debug: bool | None = None
    reload: bool | None = None
    access_log: bool | None = None
    log_format: str = "text"
    max_threads: int = 40
    shutdown_timeout: float = 30.0
    #: Seconds a connection has to send each request head (408, or closed, past it; 0:
    #: none), under ``pagesfn serve`` and ``pagesfn dev``.
    head_timeout: float = DEFAULT_HEAD_TIMEOUT
    region: str = "local"
    geo_header: str | None = None
    client_ip_header: str | None = None
    #: KV bindings: name -> the SQLite file of the namespace, or a Redis URL.
    kv: Mapping[str, Path | str] = field(default_factory=dict)
    #: A ``cloudbase-functions.json`` routing the project instead of ``functions``.
    functions_config: Path | None = None
    extended_context_header: str = EXTENDED_CONTEXT_HEADER
    #: A folder the server's log (and, with ``intercept_output``, what functions print)
    #: is written to, besides the console.
    log_dir: Path | None = None
    intercept_output: bool = False
    #: The limits of one request (:class:`pagesfn.Limits`): keys of a ``[limits]`` table,
    #: or of the top level, or flags; 0 turns one off.
    limits: Limits = DEFAULT_LIMITS
    #: Let debug pages (tracebacks, file paths) be served on a non-loopback address.
    allow_remote_debug: bool = False
    #: Folders hot reload watches besides the functions tree: where the source of a
    #: mounted app lives when its package is outside the tree (``pip install -e``).
    watch: tuple[Path, ...] = ()
    source: Path | None = None

    def env(self) -> dict[str, str]:
        """The values of the env files that exist, read in order (a later file wins).

        A bare ``KEY`` line, which has no value, is skipped.
        """
        values: dict[str, str] = {}
        for file in self.env_files:
            # exists(), not is_file(): a named pipe (`--env-file <(...)`) is read too.
            if file.exists():
                values.update(_read_env_file(file))
        return values

    def pages_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`pagesfn.Pages` serving this project."""
        return {
            "functions": self.functions,
            "public": self.public,
            "origin": self.origin,
            "env": self.env(),
            "debug": bool(self.debug),
            "spa": self.spa,
            "max_threads": self.max_threads,
            "region": self.region,
            "geo_header": self.geo_header,
            "client_ip_header": self.client_ip_header,
            "shutdown_timeout": self.shutdown_timeout,
            "kv": dict(self.kv),
            "functions_config": self.functions_config,
            "extended_context_header": self.extended_context_header,
            "limits": self.limits,
        }


def load_config(
    project: str | os.PathLike[str] = ".",
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
) -> Config:
    """Resolve the configuration of the project in the folder ``project``.

    Each setting comes from ``overrides`` if given there, else from the config file, else
    from its default. The config file is ``config_file`` if given (it must exist),
    else ``<project>/pagesfn.toml`` if it exists, else the ``[tool.pagesfn]`` table of
    ``<project>/pyproject.toml`` if there is one; when both ``pagesfn.toml`` and a
    ``[tool.pagesfn]`` table exist, only ``pagesfn.toml`` is read.

    Keys of the file are spelled ``snake_case`` or ``kebab-case`` (``max_threads`` or
    ``max-threads``); ``env_files`` takes a path or a list of paths. Relative paths in
    the file are relative to the file's folder.

    ``overrides`` holds the command line's values under ``snake_case`` keys. A value of
    ``None`` means the flag was not given and is ignored (an empty sequence for
    ``env_files`` means "no env files"). Relative paths there are relative to the
    current directory. A key that is not a setting raises :class:`TypeError`.

    Raises :class:`ConfigError` listing every problem found: unknown keys, values of the
    wrong type, invalid TOML, a missing ``config_file``.
    """
    root = _project_folder(project)
    source = _find_source(root, config_file)
    settings = _Settings()
    if source is not None:
        settings.read_file(source)
    settings.read_overrides(overrides or {})
    _one_tree(settings)
    values = {**_defaults(root), **settings.values}
    if "functions_config" not in settings.values and "functions" not in settings.values:
        found = root / FUNCTIONS_CONFIG_FILE
        if found.is_file() and not values["functions"].is_dir():
            values["functions_config"] = found
    if values.get("functions_config") is not None and "port" not in settings.values:
        values["port"] = FUNCTIONS_CONFIG_PORT
    # A functions-config project served by the command logs to the framework's folder.
    served_by_config = values.get("functions_config") is not None
    if values.get("intercept_output") and values.get("log_dir") is None and not served_by_config:
        label, name = settings.spelled["intercept_output"]
        fix = "add `--log-dir DIR` (or `--logDirname=DIR`)"
        if label != COMMAND_LINE:
            fix = "set `log-dir` too"
        settings.problems.append(Problem(label, f"`{name}` is on but there is no log folder", fix))
    # An invalid `public` is reported already; its default standing in proves nothing.
    if values.get("spa") and values["public"] is None and "public" not in settings.invalid:
        settings.problems.append(_spa_without_public(settings, root))
    if settings.problems:
        raise ConfigError(settings.problems)
    limits = {name: values.pop(name) for name in _LIMIT_NAMES & values.keys()}
    if limits:
        values["limits"] = DEFAULT_LIMITS.replace(**limits)
    return Config(project=root, source=source.path if source else None, **values)


class _Invalid(Exception):
    """A value does not fit its key; the argument says what was expected."""


_Check = Callable[[object, Path], Any]


def _integer(minimum: int, maximum: int | None = None) -> _Check:
    expected = (
        f"an integer from {minimum} to {maximum}"
        if maximum is not None
        else f"an integer of at least {minimum}"
    )

    def check(value: object, base: Path) -> int:
        # bool is an int to Python, but `port = true` is not a port.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Invalid(expected)
        if value < minimum or (maximum is not None and value > maximum):
            raise _Invalid(expected)
        return value

    return check


def _boolean(value: object, base: Path) -> bool:
    if isinstance(value, bool):
        return value
    raise _Invalid("a boolean (true or false)")


def _text(value: object, base: Path) -> str:
    if isinstance(value, str) and value:
        return value
    raise _Invalid("a non-empty string")


def _choice(*choices: str) -> _Check:
    expected = " or ".join(json.dumps(c) for c in choices)

    def check(value: object, base: Path) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise _Invalid(expected)

    return check


def _seconds(value: object, base: Path) -> float:
    expected = "a non-negative number of seconds"
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _Invalid(expected)
    # inf and nan are valid TOML floats but no timeout a thread can wait for.
    if not math.isfinite(value) or value < 0:
        raise _Invalid(expected)
    return float(value)


def _size(value: object, base: Path) -> int:
    expected = "a size in bytes, as a number or with a unit (6MB, 512KiB; 0 for no limit)"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid(expected)
    try:
        return parse_size(value)
    except ValueError:
        raise _Invalid(expected) from None


# RFC 9110 section 5.6.2: the characters of a token, which a header name is.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _header(value: object, base: Path) -> str:
    if isinstance(value, str) and _TOKEN.fullmatch(value):
        return value
    raise _Invalid("a header name (such as X-Real-IP)")


def _origin(value: object, base: Path) -> str:
    expected = "an http:// or https:// URL with a host and no query (http://127.0.0.1:3000)"
    if not isinstance(value, str):
        raise _Invalid(expected)
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        raise _Invalid(expected) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Invalid(expected)
    if parts.query or parts.fragment:
        raise _Invalid(expected)
    return value


def _path(value: object, base: Path) -> Path:
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if isinstance(text, str) and text:
            # abspath, not resolve(): `..` is folded but symlinks are kept as named.
            return Path(os.path.abspath(base / text))
    raise _Invalid("a path (a non-empty string)")


# A binding is what handlers write after ``context.env[...]``: keep it a plain name.
_BINDING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _kv(value: object, base: Path) -> dict[str, Path | str]:
    """``[kv]``: ``NAME = {}`` (the default SQLite file), ``NAME = { path = "..." }`` or
    ``NAME = { url = "redis://..." }``."""
    expected = (
        'a table of bindings, each `NAME = {}`, `NAME = { path = "..." }` '
        'or `NAME = { url = "redis://..." }`'
    )
    if not isinstance(value, Mapping):
        raise _Invalid(expected)
    bindings: dict[str, Path | str] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not _BINDING.fullmatch(name):
            raise _Invalid(f"{expected}; NAME a letter or `_` then letters, digits or `_`")
        if not isinstance(spec, Mapping) or set(spec) - {"path", "url"} or len(spec) > 1:
            raise _Invalid(expected)
        if "url" in spec:
            url = spec["url"]
            if not isinstance(url, str) or urlsplit(url).scheme not in REDIS_SCHEMES:
                raise _Invalid(f"{expected}; the url a redis://, rediss:// or unix:// URL")
            bindings[name] = url
        elif "path" in spec:
            bindings[name] = _path(spec["path"], base)
        else:
            bindings[name] = Path(os.path.abspath(base / KV_FOLDER / f"{name}.sqlite3"))
    return bindings


def _paths(value: object, base: Path) -> tuple[Path, ...]:
    try:
        if isinstance(value, list | tuple):
            return tuple(_path(item, base) for item in value)
        return (_path(value, base),)
    except _Invalid:
        raise _Invalid("a path or a list of paths") from None


_CHECKS: dict[str, _Check] = {
    "functions": _path,
    "public": _path,
    "origin": _origin,
    "env_files": _paths,
    "host": _text,
    "port": _integer(1, 65535),
    "workers": _integer(1),
    "server": _choice("uvicorn", "granian"),
    "spa": _boolean,
    "debug": _boolean,
    "reload": _boolean,
    "access_log": _boolean,
    "log_format": _choice("text", "json"),
    "max_threads": _integer(1),
    "shutdown_timeout": _seconds,
    "head_timeout": _seconds,
    "region": _text,
    "geo_header": _header,
    "client_ip_header": _header,
    "kv": _kv,
    "functions_config": _path,
    "extended_context_header": _header,
    "log_dir": _path,
    "intercept_output": _boolean,
    "allow_remote_debug": _boolean,
    "watch": _paths,
}
#: How a limit is written, by what it counts.
_LIMIT_CHECKS: dict[Unit, _Check] = {"bytes": _size, "seconds": _seconds, "count": _integer(0)}
# Every limit is a key of its own too (and of the `[limits]` table).
_CHECKS.update({spec.name: _LIMIT_CHECKS[spec.unit] for spec in LIMITS})
_LIMIT_NAMES = frozenset(spec.name for spec in LIMITS)


@dataclass(frozen=True)
class _Source:
    """A config table: the file it came from, how messages name it, its keys."""

    path: Path
    label: str
    table: Mapping[str, object]


@dataclass
class _Settings:
    """The values read so far, where each came from, and every problem found."""

    values: dict[str, Any] = field(default_factory=dict)
    # key -> (the file or the command line, the key as spelled there)
    spelled: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)

    def read_file(self, source: _Source) -> None:
        seen: dict[str, str] = {}
        base = source.path.parent
        for written, value in source.table.items():
            key = written.replace("-", "_")
            if key == "limits":
                self._read_limits(source, written, value, seen)
            elif key not in _CHECKS:
                self.problems.append(_unknown_key(source.label, written))
            elif key in seen:
                message = f"`{seen[key]}` and `{written}` are the same key"
                self.problems.append(Problem(source.label, message, "keep one of them"))
            else:
                seen[key] = written
                self.set(key, value, base, (source.label, written))

    def _read_limits(
        self, source: _Source, written: str, table: object, seen: dict[str, str]
    ) -> None:
        """A ``[limits]`` table: each key a limit, as it could be at the top level."""
        if not isinstance(table, Mapping):
            self.problems.append(Problem(source.label, f"`{written}` must be a table"))
            return
        for name, value in table.items():
            key = name.replace("-", "_")
            spelled = f"{written}.{name}"
            if key not in _LIMIT_NAMES:
                self.problems.append(_unknown_key(source.label, spelled, sorted(_LIMIT_NAMES)))
            elif key in seen:
                message = f"`{seen[key]}` and `{spelled}` are the same key"
                self.problems.append(Problem(source.label, message, "keep one of them"))
            else:
                seen[key] = spelled
                self.set(key, value, source.path.parent, (source.label, spelled))

    def read_overrides(self, overrides: Mapping[str, Any]) -> None:
        cwd = Path.cwd()
        limits = overrides.get("limits")
        if isinstance(limits, Limits):
            # ``run(limits=Limits(...))``: every limit, under the flags of the others.
            flags = {spec.name: getattr(limits, spec.name) or 0 for spec in LIMITS}
            overrides = {**flags, **{k: v for k, v in overrides.items() if k != "limits"}}
        for key, value in overrides.items():
            if key not in _CHECKS:
                # The caller passed a name that is no setting: a bug, not a user error.
                raise TypeError(f"load_config() got an unknown override {key!r}")
            if value is not None:
                flag = "--" + key.replace("_", "-")
                self.set(key, value, cwd, (COMMAND_LINE, flag))

    def set(self, key: str, value: object, base: Path, where: tuple[str, str]) -> None:
        label, name = where
        try:
            self.values[key] = _CHECKS[key](value, base)
        except _Invalid as exc:
            message = f"`{name}` must be {exc}, not {_show(value)}"
            self.problems.append(Problem(label, message))
            self.invalid.add(key)
        else:
            self.spelled[key] = where


def _unknown_key(label: str, written: str, keys: list[str] | None = None) -> Problem:
    keys = [*_CHECKS, "limits"] if keys is None else keys
    known = [*keys, *(k.replace("_", "-") for k in keys)]
    prefix = written.rpartition(".")[0]
    close = difflib.get_close_matches(written.rpartition(".")[2], known, n=1)
    if close:
        fix = f"did you mean `{prefix + '.' if prefix else ''}{close[0]}`?"
    else:
        fix = "known keys: " + ", ".join(keys)
    return Problem(label, f"unknown key `{written}`", fix)


def _one_tree(settings: _Settings) -> None:
    """``functions`` and ``functions_config`` name what to serve two ways: the command line
    wins over the file; both in one place is a problem."""
    if "functions" not in settings.values or "functions_config" not in settings.values:
        return
    tree, config = settings.spelled["functions"], settings.spelled["functions_config"]
    if tree[0] == config[0]:
        settings.problems.append(
            Problem(
                tree[0],
                f"`{tree[1]}` and `{config[1]}` both say what to serve",
                "keep one: a functions folder, or a cloudbase-functions.json",
            )
        )
    elif tree[0] == COMMAND_LINE:
        del settings.values["functions_config"]
    else:
        del settings.values["functions"]


def _spa_without_public(settings: _Settings, root: Path) -> Problem:
    label, name = settings.spelled["spa"]
    return Problem(
        label,
        f"`{name}` is on but there is no public folder to serve index.html from",
        f"create {root / 'public'} or set `public`",
    )


def _show(value: object) -> str:
    """``value`` as a config file would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, os.PathLike):
        return json.dumps(os.fspath(value))
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value)


def _defaults(root: Path) -> dict[str, Any]:
    public = root / "public"
    return {
        "functions": root / "functions",
        "public": public if public.is_dir() else None,
        "env_files": (root / ".env", root / ".dev.vars"),
    }


def _project_folder(project: str | os.PathLike[str]) -> Path:
    root = Path(os.path.abspath(project))
    if not root.is_dir():
        problem = Problem(str(root), "the project folder does not exist", "check the path")
        raise ConfigError([problem])
    return root


def _find_source(root: Path, config_file: str | os.PathLike[str] | None) -> _Source | None:
    if config_file is not None:
        return _explicit_source(Path(os.path.abspath(config_file)))
    own = root / CONFIG_FILE
    if own.is_file():
        return _Source(own, _display(own), _read_toml(own))
    pyproject = root / PYPROJECT_FILE
    if pyproject.is_file():
        return _pyproject_source(pyproject)
    return None


def _explicit_source(path: Path) -> _Source:
    if not path.is_file():
        problem = Problem(_display(path), "the config file does not exist", "check the path")
        raise ConfigError([problem])
    if path.name != PYPROJECT_FILE:
        return _Source(path, _display(path), _read_toml(path))
    source = _pyproject_source(path)
    if source is None:
        problem = Problem(_display(path), "there is no [tool.pagesfn] table", "add one")
        raise ConfigError([problem])
    return source


def _pyproject_source(path: Path) -> _Source | None:
    """The ``[tool.pagesfn]`` table of ``path``, or ``None`` when it has none."""
    document = _read_toml(path)
    tool = document.get("tool")
    table = tool.get("pagesfn") if isinstance(tool, dict) else None
    label = f"{_display(path)} [tool.pagesfn]"
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError([Problem(label, "`tool.pagesfn` must be a table")])
    return _Source(path, label, table)


def _read_toml(path: Path) -> dict[str, Any]:
    label = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(label, f"cannot be read: {exc}")]) from None
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message ends with "(at line L, column C)".
        raise ConfigError([Problem(label, f"invalid TOML: {exc}")]) from None
    return document


def _read_env_file(file: Path) -> dict[str, str]:
    try:
        values = dotenv_values(file, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(_display(file), f"cannot be read: {exc}")]) from None
    return {key: value for key, value in values.items() if value is not None}


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it is under it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)

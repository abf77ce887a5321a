"""``_routes.json``: which request paths invoke functions at all, as Cloudflare Pages has it.

The file sits in the static output folder::

    {"version": 1, "include": ["/api/*"], "exclude": ["/api/static/*"]}

A path invokes functions when it matches an ``include`` rule and no ``exclude`` rule;
every other path goes straight to the static assets. In a rule, ``*`` matches any run of
characters, ``/`` included, and ``/foo/*`` also matches ``/foo`` itself; everything else
is literal.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import Problem, RouteDefinitionError
from .table import RouteTable, Segment, SegmentKind

#: The name of the file in the static output folder.
ROUTES_FILE = "_routes.json"
#: The only version of the format.
VERSION = 1
#: Cloudflare's limits: rules in ``include`` and ``exclude`` together, characters a rule.
MAX_RULES = 100
MAX_RULE_LENGTH = 100

_WILDCARD_TAIL = "/*"
_EVERYTHING = "/*"
_KEYS = frozenset({"version", "include", "exclude", "description"})
# How much of an over-long rule an error message quotes.
_QUOTE = 40


@dataclass(frozen=True, slots=True)
class RoutesRules:
    """The ``include`` and ``exclude`` rules of a ``_routes.json``.

    :meth:`invokes_functions` takes the *decoded* request path (``/a b``, not
    ``/a%20b``) and compares it to the rules as written, case-sensitively: rules are
    decoded text too. One trailing slash is ignored on the path and on a rule alike, as
    the router ignores it, so ``/hello`` and ``/hello/`` always get the same answer.
    """

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    # Compiled once here, since every request is checked against them.
    _include: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)
    _exclude: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        # Lists are accepted as well; stored as tuples so the rules stay immutable.
        object.__setattr__(self, "include", tuple(self.include))
        object.__setattr__(self, "exclude", tuple(self.exclude))
        object.__setattr__(self, "_include", _compile(self.include))
        object.__setattr__(self, "_exclude", _compile(self.exclude))

    def invokes_functions(self, path: str) -> bool:
        """Whether the decoded request ``path`` is answered by functions (else by assets)."""
        if len(path) > 1 and path[-1] == "/":
            path = path[:-1]
        include, exclude = self._include, self._exclude
        if include is None or include.fullmatch(path) is None:
            return False
        return exclude is None or exclude.fullmatch(path) is None


def parse_routes_json(data: str | bytes, file: str = ROUTES_FILE) -> RoutesRules:
    """Parse and validate the text of a ``_routes.json``.

    Raises :class:`RouteDefinitionError` naming ``file`` and listing every problem found.
    """
    document = _decode(data, file)
    problems: list[Problem] = []
    _check_keys(document, file, problems)
    _check_version(document, file, problems)
    include = _rule_list(document, "include", file, problems, required=True)
    exclude = _rule_list(document, "exclude", file, problems, required=False)
    total = len(include) + len(exclude)
    if total > MAX_RULES:
        problems.append(
            Problem(
                file,
                f"has {total} rules in `include` and `exclude` together; at most "
                f"{MAX_RULES} are allowed",
                "merge rules with `*` wildcards, such as one `/api/*` for many `/api/...`",
            )
        )
    if problems:
        raise RouteDefinitionError(problems)
    return RoutesRules(tuple(include), tuple(exclude))


def load_routes_json(public: str | os.PathLike[str]) -> RoutesRules | None:
    """Read ``_routes.json`` from the static output folder ``public``.

    Returns ``None`` when there is no such file: every path then invokes functions.
    Raises :class:`RouteDefinitionError` when the file is present but invalid.
    """
    file = os.path.join(os.fspath(public), ROUTES_FILE)
    try:
        with open(file, "rb") as source:
            data = source.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RouteDefinitionError(
            [Problem(file, f"cannot be read: {exc.strerror}", "make it a readable file")]
        ) from None
    return parse_routes_json(data, file)


def generate_routes_json(table: RouteTable) -> dict[str, object]:
    """The ``_routes.json`` content that invokes functions exactly where ``table`` routes.

    Every route gives a rule: its static segments, then ``/*`` from its first parameter
    or catch-all on; a ``_middleware.py`` gives ``<folder>/*``; a ``_worker.py`` gives
    ``/*``. Rules covered by wider ones are dropped, and more than the allowed number of
    rules collapse into ``/*``. Rules are decoded text, like the paths they are compared
    to, so every path a route of ``table`` answers is included.

    Raises :class:`RouteDefinitionError` when the tree routes nothing, since a
    ``_routes.json`` needs at least one rule.
    """
    if table.worker is not None:
        include = [_EVERYTHING]
    else:
        rules = [_rule(route.segments, wildcard=False) for route in table.routes]
        rules += [_rule(route.segments, wildcard=True) for route in table.middleware]
        include = _consolidate(rules)
    if not include:
        raise RouteDefinitionError(
            [
                Problem(
                    table.root,
                    f"routes no path, so no `{ROUTES_FILE}` can be generated",
                    "add a route file, or leave the file out",
                )
            ]
        )
    return {"version": VERSION, "include": include, "exclude": []}


# -- matching -------------------------------------------------------------------------------


def _compile(rules: Sequence[str]) -> re.Pattern[str] | None:
    if not rules:
        return None
    # Backreference names must be unique across the whole alternation.
    names = (f"a{n}" for n in itertools.count())
    alternatives = "|".join(f"(?:{_rule_regex(rule, names)})" for rule in rules)
    return re.compile(alternatives, re.DOTALL)


def _rule_regex(rule: str, names: Iterator[str]) -> str:
    if len(rule) > 1 and rule.endswith("/"):
        rule = rule[:-1]
    tail = rule.endswith(_WILDCARD_TAIL)
    pieces = (rule[: -len(_WILDCARD_TAIL)] if tail else rule).split("*")
    regex = re.escape(pieces[0])
    if len(pieces) > 1:
        # The pieces between stars are each matched at their first occurrence, inside a
        # lookahead, which the engine never backtracks into: matching stays linear in the
        # path however many stars a rule has (a plain `.*` per star is exponential).
        for piece in pieces[1:-1]:
            if piece:
                name = next(names)
                regex += f"(?=(?P<{name}>.*?{re.escape(piece)}))(?P={name})"
        regex += ".*" + re.escape(pieces[-1])
    if tail:
        # `/foo/*` is `/foo` and everything under `/foo/`, never `/foobar`.
        regex += "(?:/.*)?"
    return regex


# -- validation -----------------------------------------------------------------------------


def _decode(data: str | bytes, file: str) -> dict[str, object]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RouteDefinitionError(
                [Problem(file, "is not UTF-8 text", "save it as UTF-8")]
            ) from None
    try:
        document: object = json.loads(data)
    except json.JSONDecodeError as exc:
        raise RouteDefinitionError(
            [
                Problem(
                    file,
                    f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                    'write a JSON object such as {"version": 1, "include": ["/*"]}',
                )
            ]
        ) from None
    if not isinstance(document, dict):
        raise RouteDefinitionError(
            [
                Problem(
                    file,
                    f"holds a JSON {_json_type(document)}, not an object",
                    'write a JSON object such as {"version": 1, "include": ["/*"]}',
                )
            ]
        )
    return document


def _check_keys(document: dict[str, object], file: str, problems: list[Problem]) -> None:
    for key in document:
        if key not in _KEYS:
            problems.append(
                Problem(
                    file,
                    f"has an unknown key `{key}`",
                    "remove it; the keys are `version`, `include`, `exclude` and `description`",
                )
            )


def _check_version(document: dict[str, object], file: str, problems: list[Problem]) -> None:
    fix = f'set `"version": {VERSION}`'
    if "version" not in document:
        problems.append(Problem(file, "has no `version`", fix))
        return
    version = document["version"]
    # `type` rather than `isinstance`: JSON `true` is a bool, which is an int in Python.
    if type(version) is not int or version != VERSION:
        problems.append(
            Problem(
                file,
                f"has `version` {json.dumps(version)}; only version {VERSION} exists",
                fix,
            )
        )


def _rule_list(
    document: dict[str, object],
    key: str,
    file: str,
    problems: list[Problem],
    *,
    required: bool,
) -> list[str]:
    if key not in document:
        if required:
            problems.append(
                Problem(
                    file,
                    f"has no `{key}`: at least one rule is required",
                    f'add `"{key}": ["/*"]`, or the narrower rules functions answer',
                )
            )
        return []
    value = document[key]
    if not isinstance(value, list):
        problems.append(
            Problem(
                file,
                f"`{key}` is a JSON {_json_type(value)}, not a list",
                f'make it a list of rules, such as `"{key}": ["/api/*"]`',
            )
        )
        return []
    if required and not value:
        problems.append(
            Problem(
                file,
                f"`{key}` is empty: at least one rule is required",
                'add a rule, such as "/*" for every path',
            )
        )
    rules: list[str] = []
    for index, rule in enumerate(value):
        if not isinstance(rule, str):
            problems.append(
                Problem(
                    file,
                    f"`{key}[{index}]` is a JSON {_json_type(rule)}, not a string",
                    'write the rule as a string, such as "/api/*"',
                )
            )
            continue
        _check_rule(rule, f"`{key}[{index}]`", file, problems)
        rules.append(rule)
    return rules


def _check_rule(rule: str, where: str, file: str, problems: list[Problem]) -> None:
    quoted = json.dumps(rule if len(rule) <= _QUOTE else rule[:_QUOTE] + "...")
    if not rule.startswith("/"):
        problems.append(
            Problem(
                file,
                f"{where} {quoted} does not start with `/`",
                f"write it as a path from the root, such as {json.dumps('/' + rule)}",
            )
        )
    if len(rule) > MAX_RULE_LENGTH:
        problems.append(
            Problem(
                file,
                f"{where} {quoted} is {len(rule)} characters long; at most "
                f"{MAX_RULE_LENGTH} are allowed",
                "shorten it with a `*` wildcard, such as `/long/prefix/*`",
            )
        )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# -- generation -----------------------------------------------------------------------------


def _rule(segments: Sequence[Segment], *, wildcard: bool) -> str:
    # Decoded segment text, never percent-encoded: rules are compared to decoded paths.
    # A `*` in a file name is not escapable in a rule and widens it, which still
    # includes every path the route answers.
    prefix = ""
    for segment in segments:
        if segment.kind is not SegmentKind.STATIC:
            wildcard = True
            break
        prefix += "/" + segment.value
    if wildcard:
        return _shorten(prefix + _WILDCARD_TAIL)
    return _shorten(prefix or "/")


def _shorten(rule: str) -> str:
    # An over-long rule becomes the wildcard of its longest folder that fits: wider, so
    # still including everything, but loadable.
    if len(rule) <= MAX_RULE_LENGTH:
        return rule
    cut = rule.rfind("/", 0, MAX_RULE_LENGTH - len(_WILDCARD_TAIL) + 1)
    return rule[:cut] + _WILDCARD_TAIL if cut > 0 else _EVERYTHING


def _consolidate(rules: Iterable[str]) -> list[str]:
    unique = set(rules)
    folders = {rule[: -len(_WILDCARD_TAIL)] for rule in unique if rule.endswith(_WILDCARD_TAIL)}
    kept = sorted(rule for rule in unique if not _covered(rule, folders))
    return kept if len(kept) <= MAX_RULES else [_EVERYTHING]


def _covered(rule: str, folders: set[str]) -> bool:
    # `F/*` covers `F` itself and every rule that starts with `F/`; the root's is `/*`,
    # whose folder is the empty string.
    own = rule[: -len(_WILDCARD_TAIL)] if rule.endswith(_WILDCARD_TAIL) else None
    if own is None and rule in folders:
        return True
    cut = rule.find("/")
    while cut != -1:
        if rule[:cut] in folders and rule[:cut] != own:
            return True
        cut = rule.find("/", cut + 1)
    return False

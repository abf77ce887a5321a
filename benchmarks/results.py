"""What a benchmark returns: timed rows, ratios checked against targets, extra figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .timing import Stats, time_ratio

#: What a row measured in-process ran on: no server at all.
IN_PROCESS = "in-process"


@dataclass(frozen=True, slots=True)
class Row:
    group: str  # what is requested, e.g. "static /hello"
    case: str  # who answers it, e.g. "pagesfn" or "10 routes"
    stats: Stats
    #: What served it: "in-process", or the server, its event loop and its HTTP parser.
    stack: str = IN_PROCESS


@dataclass(frozen=True, slots=True)
class Ratio:
    label: str
    value: float
    target: float | None = None  # None: reported for information only
    at_least: bool = True  # the value must be >= target (else <= target)
    unit: str = "x"  # "x" for a ratio; a measured quantity with a bound says its unit

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.at_least else self.value <= self.target


@dataclass(frozen=True, slots=True)
class Figure:
    """A single measurement outside the timing loop, such as a start-up time."""

    label: str
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a :class:`Curve`: who was measured, and its (x, y) points."""

    name: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Curve:
    """A quantity measured against a parameter (routing cost against route count, ...),
    drawn as one chart of lines; ``name`` is the chart's file name without ``.png``."""

    name: str
    title: str
    x_label: str
    y_label: str
    lines: tuple[Line, ...]
    log_x: bool = True
    log_y: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    title: str
    rows: tuple[Row, ...]
    ratios: tuple[Ratio, ...]
    figures: tuple[Figure, ...] = ()
    notes: tuple[str, ...] = ()  # printed under the tables: how a part ran, or why it did not
    curves: tuple[Curve, ...] = ()
    unit: str = "req"  # what a row counts: "us/req" and "req/s" in its table


def paired(
    group: str,
    names: tuple[str, str],
    stats: Sequence[Stats],
    label: str,
    target: float | None,
    stacks: tuple[str, str] = (IN_PROCESS, IN_PROCESS),
) -> tuple[list[Row], Ratio]:
    """The rows of pagesfn and its peer (``names``, ``stats`` and ``stacks`` in that
    order) and the ratio of their throughputs."""
    ours, theirs = stats
    rows = [Row(group, names[0], ours, stacks[0]), Row(group, names[1], theirs, stacks[1])]
    # A throughput ratio is the inverse of the time ratio.
    return rows, Ratio(label, time_ratio(theirs, ours), target)

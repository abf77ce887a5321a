"""The report's charts, drawn with matplotlib (``pip install -e ".[bench]"``), through its
object-oriented API (no pyplot, so no display and no global state).

Three kinds, each a PNG readable at a glance:

* :func:`throughput`: one chart per benchmark, one panel per scenario (a ``Row.group``),
  a horizontal bar per contender with its rate written on it, pagesfn in colour and its
  peers in grey; every panel has its own scale, since an in-process call and a request
  over HTTP differ by orders of magnitude;
* :func:`scorecard`: every ratio that has a target, as a bar from parity, green when
  met and red when not, the target marked on it;
* :func:`curve`: a :class:`~benchmarks.results.Curve`, one line per contender.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .results import Curve, Ratio, Result, Row

OURS = "#1f5fbf"  # pagesfn
THEIRS = "#a3acb9"  # its peers
MET = "#2a9d8f"
MISSED = "#d1495b"
# Line colours of a curve: pagesfn's lines take the blues, its peers' the warm colours.
BLUES = ("#1f5fbf", "#4ea8de", "#0b2e6b", "#7b9acc")
WARM = ("#e76f51", "#e9a03b", "#a8336a", "#8d6e63")
# Where the ratio axis may have ticks (the ones inside its limits are drawn).
RATIO_TICKS = (0.125, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 16)
TIMES = "\N{MULTIPLICATION SIGN}"
WIDTH = 9.0  # inches; at DPI, 1,080 pixels: wide enough for a README or a phone
DPI = 120


def is_ours(name: str) -> bool:
    """Whether a row or a line names pagesfn rather than one of its peers."""
    return name.lower().startswith("pagesfn")


def throughput(result: Result, path: Path) -> bool:
    """Draw ``result``'s rows into ``path``; ``False`` (nothing drawn) without rows, or
    with curves, which draw its rows better (a curve of cost against route count rather
    than bars of every size)."""
    groups = _groups(result.rows)
    if not groups or result.curves:
        return False
    heights = [0.35 * len(rows) + 0.55 for rows in groups.values()]
    figure = Figure(figsize=(WIDTH, sum(heights) + 0.8))
    axes = figure.subplots(len(groups), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    unit = f"{result.unit}/s"
    for ax, (group, rows) in zip(axes[:, 0], groups.items(), strict=True):
        names = [row.case for row in rows]
        rates = [row.stats.rps for row in rows]
        colours = [OURS if is_ours(name) else THEIRS for name in names]
        bars = ax.barh(range(len(rows)), rates, color=colours, height=0.7)
        ax.set_yticks(range(len(rows)), names)
        ax.invert_yaxis()  # the first row on top, as in the table
        ax.set_title(group, loc="left", fontsize=10, fontweight="bold")
        ax.bar_label(bars, _bar_labels(rows, unit), fontsize=8)
        ax.set_xlim(0, max(rates) * 1.45)
        ax.xaxis.set_visible(False)
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
    figure.suptitle(
        f"{result.name}: {result.title}\n{unit}, higher is better", fontsize=11, x=0.02, ha="left"
    )
    _save(figure, path)
    return True


def scorecard(ratios: Sequence[tuple[str, Ratio]], path: Path) -> bool:
    """Draw every ratio of ``ratios`` (each with the name of its benchmark) that has a
    target into ``path``; ``False`` (nothing drawn) when none has. Bars start at parity
    (1x), on a log scale so that 0.5x and 2x are as far from it."""
    scored = [(name, r) for name, r in ratios if r.target is not None and r.unit == "x"]
    if not scored:
        return False
    figure = Figure(figsize=(WIDTH, 0.32 * len(scored) + 1.4))
    ax = figure.subplots()
    # A ratio where lower is better (of times) is drawn inverted, so right is always better.
    shown = [_drawn(r, r.value) for _, r in scored]
    targets = [_drawn(r, r.target) for _, r in scored if r.target is not None]
    y = range(len(scored))
    colours = [MET if r.met else MISSED for _, r in scored]
    ax.barh(y, [s - 1 for s in shown], left=1, color=colours, height=0.65)
    ax.scatter(targets, y, marker="|", s=220, color="black", zorder=3, label="target")
    for index, ((_, ratio), drawn) in enumerate(zip(scored, shown, strict=True)):
        text = _ratio_text(ratio) + ("" if ratio.at_least else " the time")
        ax.text(
            max(drawn, 1) * 1.03,
            index,
            text + ("" if ratio.met else " (not met)"),
            va="center",
            fontsize=8,
        )
    ax.set_xscale("log", base=2)
    low = min(min(shown), min(targets), 1) / 1.3
    high = max(max(shown), max(targets), 1) * 1.6
    ax.set_xlim(low, high)
    ax.set_xticks([tick for tick in RATIO_TICKS if low <= tick <= high])
    ax.minorticks_off()
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_yticks(list(y), [_short(f"{name}: {_bare(r.label)}") for name, r in scored], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_times_formatter())
    ax.set_xlabel("pagesfn against its peer: right of 1x, pagesfn is ahead")
    ax.legend(loc="lower right", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("Targets: met in green, not met in red", loc="left", fontsize=11)
    _save(figure, path)
    return True


def _drawn(ratio: Ratio, value: float) -> float:
    """Where ``value`` of ``ratio`` sits on the scorecard's axis."""
    return value if ratio.at_least else 1 / value


def curve(drawn: Curve, path: Path) -> None:
    """Draw ``drawn`` into ``path``: one line per contender, markers on the measured
    points, pagesfn's lines solid and its peers' dashed."""
    figure = Figure(figsize=(WIDTH, 5.0))
    ax = figure.subplots()
    blues, warm = iter(BLUES * 4), iter(WARM * 4)
    for line in drawn.lines:
        ours = is_ours(line.name)
        xs = [x for x, _ in line.points]
        ys = [y for _, y in line.points]
        ax.plot(
            xs,
            ys,
            marker="o",
            linestyle="-" if ours else "--",
            color=next(blues) if ours else next(warm),
            label=line.name,
        )
    if drawn.log_x:
        ax.set_xscale("log")
        ticks = sorted({x for line in drawn.lines for x, _ in line.points})
        ax.set_xticks(ticks, [f"{x:,.0f}" for x in ticks])
        ax.minorticks_off()
    if drawn.log_y:
        ax.set_yscale("log")
        # Plain numbers, not powers of ten. Minor ticks get labels too where the lines
        # span little more than a decade; over more, only 2 and 5 times a power of ten.
        values = [y for line in drawn.lines for _, y in line.points if y > 0]
        few = max(values) / min(values) < 30 if values else True
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
        ax.yaxis.set_minor_formatter(FuncFormatter(_plain if few else _two_and_five))
    ax.set_xlabel(drawn.x_label)
    ax.set_ylabel(drawn.y_label)
    ax.set_title(drawn.title, loc="left", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _save(figure, path)


def _bar_labels(rows: Sequence[Row], unit: str) -> list[str]:
    """Each bar's rate; a peer's also says how pagesfn compares with it (its median rate
    over the peer's: the table's paired ratio may differ a little)."""
    ours = next((row.stats.rps for row in rows if is_ours(row.case)), None)
    labels = []
    for row in rows:
        label = f" {row.stats.rps:,.0f} {unit}"
        if ours is not None and not is_ours(row.case):
            label += f"  (pagesfn {ours / row.stats.rps:.2f}{TIMES})"
        labels.append(label)
    return labels


def _plain(value: float, _position: object = None) -> str:
    return f"{value:,g}"


def _two_and_five(value: float, _position: object = None) -> str:
    """A minor tick's label on a log axis spanning decades: 20, 50, 200, 500, ..."""
    leading = f"{value:e}"[0]
    return _plain(value) if leading in "25" else ""


def _groups(rows: Sequence[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return groups


def _bare(label: str) -> str:
    """A ratio's label without its units, which the axis gives: "pagesfn req/s / Starlette
    req/s" reads "pagesfn / Starlette"."""
    return re.sub(r" (?:req|ops|round trips)/s\b", "", label)


def _short(label: str, width: int = 80) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _times_formatter() -> FuncFormatter:
    def times(value: float, _position: object) -> str:
        return f"{value:g}x"

    return FuncFormatter(times)


def _ratio_text(ratio: Ratio) -> str:
    """The ratio to two decimals, or three where two would round it onto its target."""
    text = f"{ratio.value:.2f}"
    if ratio.target is not None and text == f"{ratio.target:.2f}":
        text = f"{ratio.value:.3f}"
    return f"{text}x"


def _save(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    # No software or date stamp in the file: the same figures give the same bytes.
    figure.savefig(path, dpi=DPI, metadata={"Software": None})

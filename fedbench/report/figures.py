"""Figures of the reports: the published loss/accuracy grid, final accuracy vs stragglers,
the FedProx paper's by-dataset grid, accuracy per round against a target accuracy, and
accuracy against the Dirichlet β of the label split (a grid whose partitions sweep it).

A grid with a partitions axis (``grid.partitions``) never has two partitions in one line or
panel: every figure gets a panel (or a row of panels) per partition, titled with the
partition's table heading ("#C=1", "p~Dir(0.5)", "IID"); a grid without partitions is drawn
exactly as before partitions existed.

Drawing functions take a target (a matplotlib ``Figure`` or ``SubFigure``) so
the same code draws the standalone PNG/PDF files and the pages of the report.
Only the object-oriented API is used (no pyplot): no global figure state, no
backend switching, safe to call from parallel Snakemake jobs. Text is plain
matplotlib text (no TeX) and fonts are embedded as TrueType so that PDF text
can be searched and extracted.

Averaging follows ``fedbench.analysis.summary``: diverged runs are left out of every
mean and band, and the panels say so. Every file is written through ``fedbench.io`` (no
half-written figure ever exists) without creation dates or software tags, so the same data
gives the same bytes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator

from fedbench.algorithms import baseline, params_from_text, sort_key
from fedbench.algorithms import registry as algorithm_registry
from fedbench.analysis.partial_work import partial_work_pairs
from fedbench.analysis.summary import LAST_K, per_run_metrics, runs_of_tables
from fedbench.analysis.sweeps import (
    MU,
    SWEEP_MIN,
    Sweep,
    find_sweeps,
    settings,
    sweep_cells,
    swept_params,
)
from fedbench.analysis.targets import batch_order, published_for, target_of
from fedbench.config import FULL_BATCH
from fedbench.data import partitions as partition_registry
from fedbench.io import atomic_write
from fedbench.protocols import get_protocol, registry

# Colour-blind-safe (Okabe–Ito, then Tol's muted colours for grids of more than seven
# variants; Okabe–Ito's yellow last, as it is faint on white), assigned in variant order:
# the baseline (FedAvg) first, then by algorithm, μ and params. Twelve variants get twelve
# colours; markers and line styles tell the same colours apart where a grid has more.
PALETTE = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#882255", "#999933", "#332288", "#44AA99", "#F0E442")
LINESTYLES = ("--", "-", "-", "-.", ":", "-", "--", "-.", "-", ":", "-.", "-")
MARKERS = ("s", "o", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
RC = {
    "pdf.fonttype": 42,  # TrueType: text stays extractable (pypdf) and searchable
    "ps.fonttype": 42,
    "text.usetex": False,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
}
FIGURE_NAMES = ("curves", "final_accuracy")
# The FedProx paper's Figure 1 layout (columns: datasets, rows: straggler rates), drawn when a
# grid has a federated protocol: training loss over every device's data, and test accuracy.
BY_DATASET_FIGURES = {"training_loss": ("global_train_loss", "training loss"),
                      "test_accuracy_by_dataset": ("test_accuracy", "test accuracy")}
FORMATS = ("png", "pdf")
# Last-10 accuracy against a swept setting, drawn when a grid sweeps one
# (``fedbench.analysis.sweeps``): figures/<setting>_sweep, e.g. mu_sweep (the course's
# exercise) or server_lr_sweep (the tuning grid)
MU_SWEEP_FIGURE = "mu_sweep"
MU_SWEEP_MIN = SWEEP_MIN
MU_AXIS = "proximal weight μ (symmetric log scale)"


def sweep_figure_name(param: str) -> str:
    """figures/<name>.{png,pdf} of the sweeps of ``param``: mu_sweep, server_lr_sweep."""
    return f"{param}_sweep"


def mu_sweeps(cells: Iterable[tuple[Any, ...]]) -> list[tuple[str, float]]:
    """(algorithm, straggler rate) pairs whose grid sweeps μ, from the grid's (algorithm, μ,
    straggler rate[, params]) cells: an algorithm with a proximal term, MU_SWEEP_MIN or more
    μ values, the rest of its settings equal."""
    return sorted({(s.algorithm, s.stragglers) for s in find_sweeps(cells) if s.param == MU})


def summary_cells(summary_df: pd.DataFrame) -> list[tuple[str, float, float, str]]:
    """(algorithm, μ, straggler rate, params) of every cell of a summary."""
    params = summary_df["params"] if "params" in summary_df else [""] * len(summary_df)
    return [(str(a), float(m), float(s), p if isinstance(p, str) else "") for (a, m, s), p in
            zip(summary_df[["algorithm", "mu", "stragglers"]].itertuples(index=False), params,
                strict=True)]


def extra_figure_names(protocols: Sequence[str], cells: Iterable[tuple[Any, ...]] = (),
                       partitions: Iterable[str] = ()) -> list[str]:
    """Names of the figures beyond FIGURE_NAMES that a grid of ``protocols`` and ``cells``
    ((algorithm, μ, straggler rate[, params]), the grid's variants × straggler rates) gets;
    ``partitions``: the labels of its partitions axis, if it has one."""
    cells = list(cells)
    names = []
    if any(get_protocol(p).evaluation == "federated" for p in protocols):
        names += list(BY_DATASET_FIGURES)
    names += [sweep_figure_name(p) for p in swept_params(find_sweeps(cells))]
    if partial_work_pairs(cells):
        names.append(PARTIAL_WORK_FIGURE)
    if beta_sweep_partitions(partitions):
        names.append(BETA_SWEEP_FIGURE)
    return names


def published_accuracy(protocol: str, algorithm: str, mu: float, stragglers: float,
                       partition: str = "") -> Any:
    """The protocol's published test accuracy of a cell (``PublishedValue``), or None: only a
    value published for the cell's partition ("" for the protocol's own split), as a value of
    another split is not a value of this cell."""
    found = registry().get(protocol)
    if found is None:
        return None
    for value in found.docs.published:
        if (value.algorithm == algorithm and value.metric == "test_accuracy"
                and abs(value.mu - mu) < 1e-9 and abs(value.stragglers - stragglers) < 1e-9
                and value.partition == partition):
            return value
    return None


PUBLISHED_LABEL = "published (≈, read off its figure)"


def _published_marker(ax, x: float, value: Any, color: str) -> None:
    """A published value (or range, read off a figure) as a hollow diamond with its range."""
    mid = (value.low + value.high) / 2
    ax.errorbar([x], [mid], yerr=[[mid - value.low], [value.high - mid]], fmt="D",
                color=color, markerfacecolor="white", markersize=5, capsize=3, linewidth=1.1,
                zorder=5)


def published_shown(frame: pd.DataFrame) -> bool:
    """Whether the figures draw a published value for any cell of ``frame`` (rounds.csv or
    summary.csv rows): only where the cell ran to the round the value was published at."""
    last = "rounds" if "rounds" in frame else "round"
    frame = with_partition(frame)
    cells = frame.groupby(["protocol", "partition", "algorithm", "mu", "stragglers"])[last].max()
    for (protocol, partition, algorithm, mu, sf), rounds in cells.items():
        value = published_accuracy(str(protocol), str(algorithm), float(mu), float(sf),
                                   str(partition))
        if value is not None and int(rounds) >= value.round:
            return True
    return False


# inches a figure legend may take: the report's text width (figures drawn alone are wider)
LEGEND_WIDTH = 6.6


def text_inches(text: str, size: float) -> float:
    """Rendered width of ``text`` in the report's font, in inches (measured, not guessed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=RC["font.family"], size=size)
    width, _h, _d = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def legend_columns(labels: Sequence[str], most: int = 4, width: float = LEGEND_WIDTH) -> int:
    """As many legend columns (at most ``most``) as fit ``width`` inches with the longest label:
    "FedAdagrad (server_lr=0.03)" four times across would run off the page."""
    if not labels:
        return 1
    size = float(RC["legend.fontsize"])
    # the handle, the gap after it and the spacing between columns (2.0 + 0.8 + 2.0 font sizes)
    entry = max(text_inches(t, size) for t in labels) + 4.8 * size / 72
    return max(1, min(most, len(labels), int(width // entry)))


def legend_height(labels: Sequence[str], most: int = 4) -> float:
    """Inches a figure legend of ``labels`` (in ``legend_columns``) takes above the axes."""
    return 0.12 + 0.2 * math.ceil(len(labels) / legend_columns(labels, most))


def legend_labels(frame: pd.DataFrame, published: bool = False) -> list[str]:
    """The labels of a figure legend of the variants in ``frame`` (and the published values)."""
    return [label for _a, _m, label in variants_in(frame)] + ([PUBLISHED_LABEL] if published
                                                               else [])


def _published_handle() -> tuple[Any, str]:
    from matplotlib.lines import Line2D

    return (Line2D([], [], color="#555555", marker="D", markerfacecolor="white",
                   linestyle="none", markersize=5), PUBLISHED_LABEL)

Target = Figure | SubFigure


@contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib settings, applied only while drawing."""
    with mpl.rc_context(RC):
        yield


def variants_in(frame: pd.DataFrame) -> list[tuple[str, float, str]]:
    """(algorithm, mu, label) of every variant in ``frame``, in legend order: the baseline
    first, then by algorithm and μ, then by the params' values (numerically)."""
    columns = ["algorithm", "mu", "variant"] + (["params"] if "params" in frame else [])
    seen = {(str(row[0]), float(row[1]), str(row[2]),
             tuple(sorted(params_from_text(row[3]).items())) if len(row) > 3 else ())
            for row in frame[columns].itertuples(index=False)}
    ordered = sorted(seen, key=lambda v: (sort_key(v[0], v[1]), v[3], v[2]))
    return [(a, m, label) for a, m, label, _p in ordered]


def variant_styles(variants: Sequence[tuple[str, float, str]]) -> dict[str, dict[str, Any]]:
    """Colour, line style and marker per variant label, fixed by the variant order.

    The order is a function of the variants alone (the baseline first, then by algorithm
    and μ), so the same grid always gets the same colours in every figure.
    """
    return {label: {"color": PALETTE[i % len(PALETTE)],
                    "linestyle": LINESTYLES[i % len(LINESTYLES)],
                    "marker": MARKERS[i % len(MARKERS)]}
            for i, (_a, _m, label) in enumerate(variants)}


# --------------------------------------------------------------------------- partitions
# A grid with a partitions axis (``grid.partitions``) has a ``partition`` label per cell
# ("" for the protocol's own split, in every grid without the axis). Figures never mix two
# partitions in one line or panel: a panel is a (protocol, partition), titled with the
# partition's table heading ("#C=1", "p~Dir(0.5)", "IID"); a grid without partitions has one
# panel per protocol, as before partitions existed.

# NIID-Bench's row order (its Table III): label skews, feature noise, quantity skew, then IID
PARTITION_ORDER = ("labels", "dirichlet", "noise", "quantity", "iid")


def with_partition(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``partition`` column ("" for every row when it has none)."""
    return frame if "partition" in frame else frame.assign(partition="")


def partition_key(label: str) -> tuple[Any, ...]:
    """Sort key of a partition label: none first, then NIID-Bench's order of kinds, then by
    the parameters' values (β ascending)."""
    if not label:
        return (-1, "", ())
    try:
        found, params = partition_registry.parse(label)
    except ValueError:  # no longer registered: after the known ones, by its text
        return (len(PARTITION_ORDER), label, ())
    kind = (PARTITION_ORDER.index(found.name) if found.name in PARTITION_ORDER
            else len(PARTITION_ORDER))
    return (kind, found.name, tuple(sorted((k, float(v)) for k, v in params.items())))


def partition_short(label: str) -> str:
    """A partition's table heading ("#C=1", "p~Dir(0.5)", "IID"); "" for none, the label
    itself for one no longer registered."""
    if not label:
        return ""
    try:
        found, params = partition_registry.parse(label)
    except ValueError:
        return label
    return found.short(params)


def partitions_in(frame: pd.DataFrame) -> list[str]:
    """The partition labels of ``frame``'s rows, in ``partition_key`` order ([""]: none)."""
    return sorted({str(p) for p in with_partition(frame)["partition"]}, key=partition_key)


def has_partitions(frame: pd.DataFrame) -> bool:
    """Whether any row of ``frame`` ran on a partition of the grid's partitions axis."""
    return "partition" in frame and bool(frame["partition"].astype(str).str.len().gt(0).any())


def panels_in(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(protocol, partition) of every panel, by protocol, then partition (``partition_key``)."""
    seen = {(str(p), str(d)) for p, d in with_partition(frame)[["protocol", "partition"]]
            .itertuples(index=False)}
    return sorted(seen, key=lambda panel: (panel[0], partition_key(panel[1])))


def sort_by_partition(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows by protocol and partition (``partition_key``), otherwise in their
    order: summary.csv sorts partitions as text, which puts Dir(10) before Dir(5)."""
    frame = with_partition(frame)
    order = sorted(range(len(frame)), key=lambda i: (
        str(frame["protocol"].iloc[i]), partition_key(str(frame["partition"].iloc[i])), i))
    return frame.iloc[order].reset_index(drop=True)


def panel_where(protocol: str, partition: str, many_protocols: bool,
                narrow: bool = False, short: bool = False) -> str:
    """What a panel is of: "flower-baseline, p~Dir(0.5)", "#C=1", or "" (one protocol and
    no partition); ``short``: the protocol by its short title ("MNIST, #C=1"); ``narrow`` (a
    fifth of the page): that, on two lines."""
    name = partition_label(protocol) if narrow or short else protocol
    parts = ([name] if many_protocols else []) + ([partition_short(partition)]
                                                  if partition else [])
    return ("\n" if narrow else ", ").join(parts)


def _rows(frame: pd.DataFrame) -> list[tuple[str, str, float]]:
    """(protocol, partition, straggler rate) of every row of panels of the curves."""
    frame = with_partition(frame)
    seen = {(str(p), str(d), float(s)) for p, d, s in
            frame[["protocol", "partition", "stragglers"]].itertuples(index=False)}
    return sorted(seen, key=lambda r: (r[0], partition_key(r[1]), r[2]))


def _row_title(protocol: str, partition: str, stragglers: float, many_protocols: bool,
               rate: bool = True) -> str:
    """A row of curves: "flower-baseline, 50% stragglers"; with partitions "MNIST, #C=1"
    (the protocol by its short title), and the straggler rate unless ``rate`` is False."""
    if not partition:
        where = panel_where(protocol, partition, many_protocols)
        title = f"{stragglers:.0%} stragglers"
        return f"{where}, {title}" if where else title
    where = panel_where(protocol, partition, many_protocols, short=True)
    return f"{where}, {stragglers:.0%} stragglers" if rate else where


def seed_bands(rounds_df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and sample std over seeds of ``metric`` per (cell, round), ok runs only.

    A single seed has no spread: its std is NaN and no band is drawn.
    """
    ok = with_partition(rounds_df)
    ok = ok[ok["status"] == "ok"]
    keys = ["protocol", "partition", "algorithm", "mu", "stragglers", "variant", "round"]
    grouped = ok.groupby(keys, sort=True)[metric]
    return grouped.agg(mean="mean", std=lambda s: s.std(ddof=1), n="count").reset_index()


def draw_curves(target: Target, rounds_df: pd.DataFrame,
                legend_anchor: tuple[float, float] | None = None,
                many_protocols: bool | None = None, rates: bool | None = None) -> None:
    """The published grid: one row per straggler level, test loss | test accuracy.

    Variants are drawn in reverse legend order so that FedAvg's dashed line stays
    visible where it coincides with FedProx μ=0 (no stragglers: same algorithm).
    ``legend_anchor`` (figure fraction, top centre of the legend) places the legend
    where a page layout reserved room for it; by default it goes above the axes.
    """
    rounds_df = with_partition(rounds_df)
    rows = _rows(rounds_df)
    variants = variants_in(rounds_df)
    styles = variant_styles(variants)
    # ``many_protocols`` and ``rates`` (whether titles name the straggler rate; always without
    # partitions) are the whole grid's where ``rounds_df`` is one page of it
    many = len({p for p, _d, _s in rows}) > 1 if many_protocols is None else many_protocols
    if rates is None:
        rates = not has_partitions(rounds_df) or rounds_df["stragglers"].nunique() > 1
    few = len(variants) <= 5  # more lines: thinner, and fainter bands, so that lines show
    axes = np.atleast_2d(target.subplots(len(rows), 2, sharex=True, squeeze=False))
    bands = {m: seed_bands(rounds_df, m) for m in ("test_loss", "test_accuracy")}
    # one row per run (the variant names the algorithm, μ and params)
    runs = rounds_df.drop_duplicates(["protocol", "partition", "variant", "stragglers", "seed"])
    any_published = False
    for i, (protocol, partition, sf) in enumerate(rows):
        notes = []
        in_row = runs[(runs["protocol"] == protocol) & (runs["partition"] == partition)
                      & (runs["stragglers"] == sf)]
        for _a, _m, label in variants:
            mine = in_row[in_row["variant"] == label]
            n_div = int((mine["status"] == "diverged").sum())
            if n_div:
                notes.append(f"{label}: {n_div}/{len(mine)} seeds diverged (excluded)")
            n_failed = int((mine["status"] == "failed").sum())
            if n_failed:
                notes.append(f"{label}: {n_failed}/{len(mine)} seeds failed (excluded)")
        for j, (metric, ylabel) in enumerate((("test_loss", "test loss (mean CE)"),
                                              ("test_accuracy", "test accuracy"))):
            ax = axes[i, j]
            data = bands[metric]
            data = data[(data["protocol"] == protocol) & (data["partition"] == partition)
                        & (data["stragglers"] == sf)]
            for _a, _m, label in reversed(variants):
                line = data[data["variant"] == label]
                if line.empty:
                    continue
                st = styles[label]
                ax.plot(line["round"], line["mean"], color=st["color"],
                        linestyle=st["linestyle"], linewidth=1.4 if few else 1.1, label=label)
                low, high = line["mean"] - line["std"], line["mean"] + line["std"]
                if metric == "test_loss":  # a loss is not negative: nor is its band
                    low = low.clip(lower=0.0)
                ax.fill_between(line["round"], low, high, color=st["color"],
                                alpha=0.18 if few else 0.07,
                                linewidth=0)
            if metric == "test_accuracy":
                for k, (a, m, label) in enumerate(variants):
                    value = published_accuracy(protocol, a, m, sf, partition)
                    ran = data[data["variant"] == label]["round"]
                    if value is not None and len(ran) and int(ran.max()) >= value.round:
                        # beside the published round, one step apart per variant
                        _published_marker(ax, value.round + 2.0 * (k + 1), value,
                                          styles[label]["color"])
                        any_published = True
            ax.set_title(f"{_row_title(protocol, partition, sf, many, rates)} — "
                         f"{ylabel.split(' (')[0]}")
            ax.set_ylabel(ylabel)
            if i == len(rows) - 1:
                ax.set_xlabel("round")
            if notes and j == 1:
                ax.text(0.98, 0.04, "\n".join(notes), transform=ax.transAxes, ha="right",
                        va="bottom", fontsize=7, color="#333333")
    _legend(target, variants, styles, markers=False, anchor=legend_anchor,
            extra=[_published_handle()] if any_published else [])


def draw_by_dataset(target: Target, rounds_df: pd.DataFrame, metric: str, ylabel: str,
                    legend_anchor: tuple[float, float] | None = None) -> None:
    """The FedProx paper's Figure 1: columns = datasets (protocols), rows = straggler rates.

    Lines are the variants (FedAvg, FedProx μ=0, FedProx μ>0), mean over seeds
    with ±1 std bands; diverged runs are left out.
    """
    protocols = sorted({str(p) for p in rounds_df["protocol"]})
    levels = sorted({float(s) for s in rounds_df["stragglers"]})
    variants = variants_in(rounds_df)
    styles = variant_styles(variants)
    axes = np.atleast_2d(target.subplots(len(levels), len(protocols), sharex="col",
                                         squeeze=False))
    bands = seed_bands(rounds_df, metric)
    for i, sf in enumerate(levels):
        for j, protocol in enumerate(protocols):
            ax = axes[i, j]
            data = bands[(bands["protocol"] == protocol) & (bands["stragglers"] == sf)]
            for _a, _m, label in reversed(variants):
                line = data[data["variant"] == label].dropna(subset=["mean"])
                if line.empty:
                    continue
                st = styles[label]
                ax.plot(line["round"], line["mean"], color=st["color"],
                        linestyle=st["linestyle"], linewidth=1.3, label=label)
                ax.fill_between(line["round"], line["mean"] - line["std"],
                                line["mean"] + line["std"], color=st["color"], alpha=0.18,
                                linewidth=0)
            ax.set_title(f"{protocol}, {sf:.0%} stragglers", fontsize=8.5)
            if j == 0:
                ax.set_ylabel(ylabel)
            if i == len(levels) - 1:
                ax.set_xlabel("round")
    _legend(target, variants, styles, markers=False, anchor=legend_anchor)


def by_dataset_figure(rounds_df: pd.DataFrame, metric: str, ylabel: str) -> Figure:
    n_cols = rounds_df["protocol"].nunique()
    n_rows = rounds_df["stragglers"].nunique()
    fig = Figure(figsize=(max(4.0, 2.6 * n_cols), 0.8 + 2.2 * n_rows), layout="constrained")
    draw_by_dataset(fig, rounds_df, metric, ylabel)
    return fig


# panels of the final-accuracy figure per row, for a grid with partitions
FINAL_ACCURACY_COLUMNS = 3
# ... and at one straggler rate, where the variants run down each panel's y axis (their names
# take a third of the width)
FINAL_ACCURACY_ACROSS = 3


def variants_down(summary_df: pd.DataFrame) -> bool:
    """Whether the final-accuracy panels list the variants down a shared y axis, one panel per
    partition side by side: a grid with partitions at one straggler rate (nine variant names
    under a panel a fifth of the page wide would not be read)."""
    return has_partitions(summary_df) and summary_df["stragglers"].nunique() == 1


def final_accuracy_layout(summary_df: pd.DataFrame) -> tuple[int, int]:
    """(rows, columns) of the final-accuracy panels: one row of a panel per protocol, or, with
    partitions, a panel per (protocol, partition), FINAL_ACCURACY_COLUMNS to a row
    (FINAL_ACCURACY_ACROSS where ``variants_down``)."""
    n = len(panels_in(summary_df))
    if not has_partitions(summary_df):
        return 1, n
    if variants_down(summary_df):  # rows as even as they go: five panels are 3 + 2
        rows = math.ceil(n / FINAL_ACCURACY_ACROSS)
        return rows, math.ceil(n / rows)
    columns = min(FINAL_ACCURACY_COLUMNS, n)
    return math.ceil(n / columns), columns


def final_accuracy_height(summary_df: pd.DataFrame, row: float = 3.8) -> float:
    """Inches the final-accuracy panels need (without the legend): ``row`` per row of panels,
    or, where ``variants_down``, a line per variant."""
    n_rows, _n_cols = final_accuracy_layout(summary_df)
    if variants_down(summary_df):
        return n_rows * (0.75 + 0.24 * len(variants_in(summary_df))) + 0.35
    return row * n_rows


def final_accuracy_legend_labels(summary_df: pd.DataFrame) -> list[str]:
    """The legend of the final-accuracy figure: the variants and the published values (where
    ``variants_down`` the y axes name the variants: just the published values)."""
    published = published_shown(summary_df)
    if variants_down(summary_df):
        return [PUBLISHED_LABEL] if published else []
    return legend_labels(summary_df, published)


def draw_final_accuracy(target: Target, summary_df: pd.DataFrame,
                        legend_anchor: tuple[float, float] | None = None) -> None:
    """Last-10 mean accuracy vs straggler rate, ±1 std over seeds, one series per variant
    (one panel per protocol when the grid has several, and per partition when it has a
    partitions axis; at one straggler rate, the variants down the panels' y axis)."""
    summary_df = with_partition(summary_df)
    variants = variants_in(summary_df)
    styles = variant_styles(variants)
    panels = panels_in(summary_df)
    many = len({p for p, _d in panels}) > 1
    n_rows, n_cols = final_accuracy_layout(summary_df)
    down = variants_down(summary_df)
    axes = target.subplots(n_rows, n_cols, squeeze=False, sharey=down)
    published = False
    for ax, (protocol, partition) in zip(axes.flat, panels, strict=False):
        mine = summary_df[(summary_df["protocol"] == protocol)
                          & (summary_df["partition"] == partition)]
        where = panel_where(protocol, partition, many, narrow=down)
        published |= (_final_accuracy_across(ax, mine, variants, styles, where) if down else
                      _final_accuracy_panel(ax, mine, variants, styles, where))
    for ax in list(axes.flat)[len(panels):]:  # a last row that is not full
        ax.remove()
    if down:
        rate = float(summary_df["stragglers"].iloc[0])
        window = min(LAST_K, int(summary_df["rounds"].max()))
        _row_label(target, axes, f"last-{window} test accuracy at {rate:.0%} stragglers (mean "
                                 "± 1 std over seeds)", 3.0)
        if published:
            _legend(target, [], styles, markers=True, anchor=legend_anchor,
                    extra=[_published_handle()])
        return
    if n_rows > 1:
        _label_bottom_only(axes, len(panels))
    _legend(target, variants, styles, markers=True, anchor=legend_anchor,
            extra=[_published_handle()] if published else [])


def _final_accuracy_across(ax, summary_df: pd.DataFrame, variants, styles, where: str) -> bool:
    """One panel of ``variants_down``: per variant (top to bottom in legend order) the last-10
    accuracy, mean ± 1 std over seeds, and the published value of its partition (a hollow
    diamond under it); × at the left edge where every seed diverged or failed. True when it
    drew a published value."""
    position = {label: len(variants) - 1 - k for k, (_a, _m, label) in enumerate(variants)}
    published = False
    for a, m, label in variants:
        rows = summary_df[summary_df["variant"] == label]
        if rows.empty:
            continue
        row, st, y = rows.iloc[0], styles[label], position[label]
        if row["status"] in ("diverged", "failed"):
            ax.plot([0.03], [y], marker="x", color=st["color"], markersize=7,
                    transform=ax.get_yaxis_transform(), clip_on=False)
            continue
        ax.errorbar([row["last10_acc_mean"]], [y],
                    xerr=[0.0 if pd.isna(row["last10_acc_std"]) else row["last10_acc_std"]],
                    color=st["color"], marker=st["marker"], markersize=5, capsize=3,
                    linewidth=1.3, linestyle="none")
        value = published_accuracy(str(row["protocol"]), a, m, float(row["stragglers"]),
                                   str(row["partition"]))
        if value is not None and int(row["rounds"]) >= value.round:
            mid = (value.low + value.high) / 2
            ax.errorbar([mid], [y - 0.3], xerr=[[mid - value.low], [value.high - mid]],
                        fmt="D", color=st["color"], markerfacecolor="white", markersize=5,
                        capsize=3, linewidth=1.1, zorder=5)
            published = True
    ax.set_yticks(sorted(position.values()),
                  [label for label, _y in sorted(position.items(), key=lambda kv: kv[1])])
    ax.set_ylim(-0.7, len(variants) - 0.3)
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.12)  # no marker on the frame
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.set_title(where)
    return published


def _row_label(target: Target, axes: np.ndarray, text: str, pad: float = 0.0) -> None:
    """``text`` once, centred under the last row of panels (the page is the target: no
    supxlabel): the label of a frameless axes spanning the row, under the panels' tick
    labels (``pad`` points lower, for slanted ones)."""
    span = target.add_subplot(axes[0, 0].get_gridspec()[-1, :], frameon=False, zorder=-1)
    span.set_xticks([])
    span.set_yticks([])
    span.grid(False)
    span.patch.set_visible(False)
    span.set_xlabel(text, labelpad=3 + 1.4 * float(RC["xtick.labelsize"]) + pad)


def _label_bottom_only(axes: np.ndarray, n: int) -> None:
    """Leave the x tick labels and axis label to the lowest panel of each column, where every
    panel has the same ticks (the variants, or the same straggler rates)."""
    shown = list(axes.flat)[:n]
    if len({tuple(ax.get_xticks()) for ax in shown}) != 1:
        return
    n_cols = axes.shape[1]
    for k, ax in enumerate(shown):
        if k + n_cols < n:  # a panel below it
            ax.tick_params(labelbottom=False)
            ax.set_xlabel("")


def _final_accuracy_panel(ax, summary_df: pd.DataFrame, variants, styles,
                          protocol: str) -> bool:
    """One panel (``protocol``: what it is of, "" when the figure has just one); True when it
    drew a published value. With one straggler rate the variants are the x axis (a line over
    one x value would only spread markers sideways)."""
    levels = sorted({float(s) for s in summary_df["stragglers"]})
    one_level = len(levels) == 1
    step = 0.012 * ((max(levels) - min(levels)) or 1.0)  # dodge so error bars do not overlap
    published = False
    for k, (a, m, label) in enumerate(variants):
        rows = summary_df[summary_df["variant"] == label].sort_values("stragglers")
        offset = (k - (len(variants) - 1) / 2) * step
        x = (np.full(len(rows), float(k)) if one_level
             else rows["stragglers"].to_numpy(dtype=float) + offset)
        st = styles[label]
        for xi, sf, rounds in zip(x, rows["stragglers"], rows["rounds"], strict=True):
            value = published_accuracy(str(rows["protocol"].iloc[0]), a, m, float(sf),
                                       str(rows["partition"].iloc[0]))
            if value is not None and int(rounds) >= value.round:
                _published_marker(ax, xi + (0.25 if one_level else 2.5 * step), value,
                                  st["color"])
                published = True
        ax.errorbar(x, rows["last10_acc_mean"], yerr=rows["last10_acc_std"].fillna(0.0),
                    color=st["color"], linestyle=st["linestyle"], marker=st["marker"],
                    markersize=5, capsize=3, linewidth=1.3, label=label)
        for xi, row in zip(x, rows.itertuples(index=False), strict=True):
            if row.status in ("diverged", "failed"):
                ax.plot([xi], [0.02], marker="x", color=st["color"], markersize=7,
                        transform=ax.get_xaxis_transform(), clip_on=False)
    if one_level:
        ax.set_xticks(range(len(variants)), [label for _a, _m, label in variants],
                      rotation=30, ha="right")
        ax.set_xlim(-0.6, len(variants) - 0.4)
        ax.set_xlabel(f"variant ({levels[0]:.0%} stragglers)")
    else:
        ax.set_xticks(levels, [f"{s:.0%}" for s in levels])
        ax.set_xlabel("straggler rate")
    rounds = int(summary_df["rounds"].max())
    ax.set_ylabel(f"test accuracy, mean of last {min(LAST_K, rounds)} rounds")
    title = "Final accuracy vs stragglers (mean ± 1 std over seeds"
    if (summary_df["status"] == "diverged").any():
        title += "; × = all seeds diverged"
    if (summary_df["status"] == "failed").any():
        title += "; × = all seeds diverged or failed"
    ax.set_title(f"{protocol}: last-10 accuracy" if protocol else title + ")")
    return published


def _legend(target: Target, variants: Sequence[tuple[str, float, str]],
            styles: dict[str, dict[str, Any]], markers: bool,
            anchor: tuple[float, float] | None = None,
            extra: Sequence[tuple[Any, str]] = ()) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=styles[label]["color"], linestyle=styles[label]["linestyle"],
                      marker=styles[label]["marker"] if markers else None, linewidth=1.6)
               for _a, _m, label in variants]
    labels = [label for _a, _m, label in variants]
    handles += [h for h, _ in extra]
    labels += [text for _, text in extra]
    ncol = legend_columns(labels)
    if anchor is None:
        target.legend(handles, labels, loc="outside upper center", ncol=ncol, frameon=False)
    else:
        target.legend(handles, labels, loc="upper center", bbox_to_anchor=anchor, ncol=ncol,
                      frameon=False)


def curves_figure(rounds_df: pd.DataFrame, width: float = 8.0) -> Figure:
    """A standalone figure of the loss/accuracy grid (height grows with the rows)."""
    n_rows = len(_rows(rounds_df))
    fig = Figure(figsize=(width, 0.6 + 2.4 * n_rows), layout="constrained")
    draw_curves(fig, rounds_df)
    return fig


def final_accuracy_figure(summary_df: pd.DataFrame, width: float = 6.0) -> Figure:
    _n_rows, n_cols = final_accuracy_layout(summary_df)
    if variants_down(summary_df):
        width = max(width, 1.6 + 1.5 * n_cols)
        height = final_accuracy_height(summary_df) + legend_height(
            final_accuracy_legend_labels(summary_df))
    else:
        width = max(width, 3.2 * n_cols)
        height = final_accuracy_height(summary_df, 4.0)
    fig = Figure(figsize=(width, height), layout="constrained")
    draw_final_accuracy(fig, summary_df)
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    """Write ``fig`` to ``path`` in the format its suffix names (atomically, ``fedbench.io``).

    Creation dates and software tags are left out so that the same data gives
    the same bytes.
    """
    fmt = path.suffix.lstrip(".")
    metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
    atomic_write(path, lambda handle: fig.savefig(handle, format=fmt, dpi=150,
                                                  metadata=metadata))


def save_figures(rounds_df: pd.DataFrame, summary_df: pd.DataFrame,
                 figures_dir: str | Path) -> list[Path]:
    """Write figures/curves.{png,pdf} and figures/final_accuracy.{png,pdf}, for grids with a
    federated protocol figures/{training_loss,test_accuracy_by_dataset}.{png,pdf}, for grids
    that sweep μ figures/mu_sweep.{png,pdf} (and so on: ``extra_figure_names``), and for
    grids whose partitions sweep the Dirichlet β figures/beta_sweep.{png,pdf}."""
    out = Path(figures_dir)
    written = []
    with style():
        figures = {"curves": curves_figure(rounds_df),
                   "final_accuracy": final_accuracy_figure(summary_df)}
        protocols = sorted({str(p) for p in rounds_df["protocol"]})
        sweeps = {sweep_figure_name(p): p
                  for p in swept_params(find_sweeps(summary_cells(summary_df)))}
        for name in extra_figure_names(protocols, summary_cells(summary_df),
                                       partitions_in(summary_df)):
            if name in sweeps:
                figures[name] = sweep_figure(rounds_df, summary_df, sweeps[name])
            elif name == PARTIAL_WORK_FIGURE:
                figures[name] = partial_work_figure(rounds_df, summary_df)
            elif name == BETA_SWEEP_FIGURE:
                figures[name] = beta_sweep_figure(summary_df)
            else:
                figures[name] = by_dataset_figure(rounds_df, *BY_DATASET_FIGURES[name])
        for name in figures:
            for fmt in FORMATS:
                path = out / f"{name}.{fmt}"
                save_figure(figures[name], path)
                written.append(path)
    return written


# --------------------------------------------------------------------------- paired differences


def forest_rows(summary_df: pd.DataFrame) -> pd.DataFrame:
    """The paired-comparison rows (every cell but the baseline's), in the table's order."""
    return summary_df[summary_df["algorithm"] != baseline().name].reset_index(drop=True)


# panels of the forest plot per row, for a grid with partitions
FOREST_COLUMNS = 5


def forest_panels(summary_df: pd.DataFrame) -> tuple[list[tuple[str, str, float]], int]:
    """The forest plot's panels, (protocol, partition, straggler rate) in drawing order, and
    its columns: a row per protocol and a column per straggler rate; with partitions, a panel
    per (protocol, partition, straggler rate), FOREST_COLUMNS to a row."""
    rows = with_partition(forest_rows(summary_df))
    levels = sorted({float(s) for s in rows["stragglers"]})
    if not has_partitions(rows):
        protocols = sorted({str(p) for p in rows["protocol"]})
        return [(p, "", s) for p in protocols for s in levels], max(1, len(levels))
    panels = [(p, d, s) for p, d in panels_in(rows) for s in levels
              if ((rows["protocol"] == p) & (rows["partition"] == d)
                  & (rows["stragglers"] == s)).any()]
    return panels, max(1, min(FOREST_COLUMNS, len(panels)))


def forest_height(summary_df: pd.DataFrame) -> float:
    """Inches the forest plot needs: a row per compared variant, a panel row per protocol
    (with partitions: per FOREST_COLUMNS panels)."""
    rows = forest_rows(summary_df)
    n_variants = len(variants_in(rows)) if len(rows) else 0
    if has_partitions(rows):
        panels, n_cols = forest_panels(summary_df)
        n_rows = math.ceil(len(panels) / n_cols)
    else:
        n_rows = summary_df["protocol"].nunique()
    return 0.55 + n_rows * (0.45 + 0.22 * n_variants)


def draw_forest(target: Target, summary_df: pd.DataFrame) -> None:
    """Forest plot of the paired comparison, one panel per straggler rate (and a row of
    panels per protocol; with partitions, a panel per partition and straggler rate): per
    variant the mean last-10 difference to the baseline at that rate (paired by seed) with
    its 95 % t interval, top to bottom in the table's order; the vertical line is no
    difference. The panels share the difference axis."""
    rows = with_partition(forest_rows(summary_df))
    variants = variants_in(rows)
    styles = variant_styles(variants_in(summary_df))
    protocols = sorted({str(p) for p in rows["protocol"]})
    levels = sorted({float(s) for s in rows["stragglers"]})
    panels, n_cols = forest_panels(summary_df)
    n_rows = max(1, math.ceil(len(panels) / n_cols))
    partitioned = has_partitions(rows)
    axes = target.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    position = {label: len(variants) - 1 - k for k, (_a, _m, label) in enumerate(variants)}
    for k, (protocol, partition, sf) in enumerate(panels):
        i, j = divmod(k, n_cols)
        ax = axes[i, j]
        mine = rows[(rows["protocol"] == protocol) & (rows["partition"] == partition)
                    & (rows["stragglers"] == sf)]
        for r in mine.itertuples(index=False):
            st, yi = styles[r.variant], position[r.variant]
            if math.isfinite(r.paired_ci_low):
                ax.plot([r.paired_ci_low, r.paired_ci_high], [yi, yi], color=st["color"],
                        linewidth=1.6, solid_capstyle="butt")
            if math.isfinite(r.paired_diff_last10_mean):
                ax.plot([r.paired_diff_last10_mean], [yi], marker=st["marker"],
                        color=st["color"], markersize=5, linestyle="none")
        ax.axvline(0.0, color="#333333", linewidth=0.8)
        ax.grid(axis="y", visible=False)
        where = panel_where(protocol, partition, len(protocols) > 1, narrow=partitioned)
        if partitioned and len(levels) == 1:  # the rate is said once, under the panels
            ax.set_title(where)
        else:
            ax.set_title(f"{where}, {sf:.0%} stragglers" if where else f"{sf:.0%} stragglers")
        if j == 0:
            ax.set_yticks(sorted(position.values()),
                          [label for label, _y in sorted(position.items(), key=lambda kv: kv[1])])
            ax.set_ylim(-0.7, len(variants) - 0.3)
        else:
            ax.tick_params(axis="y", left=False)
    for k in range(len(panels), n_rows * n_cols if partitioned else 0):  # a last row not full
        axes.flat[k].remove()
        if k >= n_cols:  # the panel above it is the lowest of its column: its ticks show
            axes.flat[k - n_cols].xaxis.set_tick_params(labelbottom=True)
    if not partitioned:
        _row_label(target, axes, f"Δ last-{LAST_K} accuracy vs {baseline().docs.title} "
                                 "(paired by seed; line: 95 % t interval)")
        return
    pad = 3.0
    if n_cols >= 4:  # narrow panels: few ticks, slanted so as not to overlap
        axes[0, 0].xaxis.set_major_locator(MaxNLocator(nbins=3))
        for ax in axes.flat:
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        pad += 1.6 * float(RC["xtick.labelsize"])
    at = f" at {levels[0]:.0%} stragglers" if len(levels) == 1 else ""
    _row_label(target, axes, f"Δ last-{LAST_K} acc. vs {baseline().docs.title}{at} (paired by "
                             "seed; 95 % t interval)", pad)


# --------------------------------------------------------------------------- μ sweep


def per_seed_last10(rounds_df: pd.DataFrame, summary_df: pd.DataFrame) -> pd.DataFrame:
    """Per run the last-10 accuracy (``fedbench.analysis.summary.per_run_metrics``), ok runs."""
    metrics = per_run_metrics(rounds_df, runs_of_tables(rounds_df, summary_df))
    return metrics[metrics["status"] == "ok"]


def _sweep_axis(ax, values: Sequence[float]) -> None:
    """A swept setting's axis: logarithmic, symmetric-log when 0 is among the values (μ = 0
    and 0.001 … 2 both readable); a tick at every value run."""
    positive = [v for v in values if v > 0]
    if positive and len(positive) < len(values):
        if min(positive) < 0.5 * max(positive):
            ax.set_xscale("symlog", linthresh=min(positive), linscale=0.5)
    elif positive and min(positive) < 0.5 * max(positive):
        ax.set_xscale("log")
    crowded = len(values) > 4  # 0.0001 0.0003 0.001 … side by side would overlap
    ax.set_xticks(values, [f"{v:g}" for v in values], rotation=45 if crowded else 0,
                  ha="right" if crowded else "center", rotation_mode="anchor")
    ax.minorticks_off()


def sweep_axis_label(param: str, sweeps: Sequence[Sweep]) -> str:
    """"proximal weight μ (symmetric log scale)"; "server_lr: η, the server learning rate
    (log scale)", from the algorithm's hyperparameter description."""
    if param == MU:
        return MU_AXIS
    described = setting_description(param, sweeps)
    return f"{param}: {described} (log scale)" if described else f"{param} (log scale)"


def setting_description(param: str, sweeps: Sequence[Sweep]) -> str:
    """A hyperparameter's description in its algorithm's model ("η, the server learning
    rate"), "" if it has none."""
    for sweep in sweeps:
        found = algorithm_registry().get(sweep.algorithm)
        field = found.hyperparameters.model_fields.get(param) if found is not None else None
        if field is not None and field.description:
            return field.description
    return ""


def _setting_name(param: str) -> str:
    return "μ" if param == MU else param


def _line_label(sweep: Sweep, many: bool) -> str:
    """A swept line's legend name: the algorithm's title, with its fixed settings when the
    algorithm has more than one line of this setting."""
    title = algorithm_registry()[sweep.algorithm].docs.title
    if not many or not sweep.fixed:
        return title
    return f"{title} ({', '.join(f'{_setting_name(k)}={v:g}' for k, v in sweep.fixed)})"


def draw_sweep(target: Target, rounds_df: pd.DataFrame, summary_df: pd.DataFrame,
               param: str = MU, legend_anchor: tuple[float, float] | None = None) -> None:
    """Last-10 accuracy against a swept setting (μ, or an algorithm's param such as the server
    learning rate): one panel per (protocol, straggler rate), sharing the accuracy axis. In
    each, per swept line the mean over seeds with a ±1 std band, every seed as a dot and the
    best value (highest mean) ringed; the baseline (FedAvg, which has no such setting) at the
    same straggler rate as a dashed line with its band. With partitions, a row of panels per
    (protocol, partition), each partition's values compared only with its own."""
    summary_df = with_partition(summary_df)
    sweeps = [s for s in find_sweeps(summary_cells(summary_df)) if s.param == param]
    seeds = with_partition(per_seed_last10(rounds_df, summary_df))
    reference = baseline()
    protocols = sorted({str(p) for p in summary_df["protocol"]})
    panels = panels_in(summary_df)
    levels = sorted({s.stragglers for s in sweeps})
    lines = sorted({(s.algorithm, s.fixed) for s in sweeps},
                   key=lambda af: (sort_key(af[0], 0.0), af[1]))
    per_algorithm = {a: sum(1 for b, _f in lines if b == a) for a, _f in lines}
    colors = {line: PALETTE[(k + 1) % len(PALETTE)] for k, line in enumerate(lines)}
    # partitions differ by tens of points: a row's panels share their accuracy axis only
    axes = target.subplots(len(panels), len(levels), squeeze=False,
                           sharey="row" if has_partitions(summary_df) else True)
    handles: dict[str, Any] = {}
    rounds = int(summary_df["rounds"].max())
    name = _setting_name(param)
    for (i, (protocol, partition)), (j, sf) in itertools.product(enumerate(panels),
                                                                 enumerate(levels)):
        ax = axes[i, j]
        values: set[float] = set()
        for sweep in (s for s in sweeps if s.stragglers == sf):
            line = sweep_cells(summary_df, sweep)
            line = line[(line["protocol"] == protocol) & (line["partition"] == partition)]
            if line.empty:
                continue
            x = line["value"].to_numpy(dtype=float)
            values |= set(x.tolist())
            mean = line["last10_acc_mean"].to_numpy(dtype=float)
            std = line["last10_acc_std"].fillna(0.0).to_numpy(dtype=float)
            color = colors[(sweep.algorithm, sweep.fixed)]
            drawn = ax.plot(x, mean, color=color, marker="o", markersize=4, linewidth=1.4)
            ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
            cells = set(zip(line["mu"], line["params"] if "params" in line else [""] * len(line),
                            strict=True))
            dots = seeds[(seeds["protocol"] == protocol) & (seeds["partition"] == partition)
                         & (seeds["algorithm"] == sweep.algorithm)
                         & (seeds["stragglers"] == sf)]
            dots = dots[[(m, p) in cells for m, p in zip(dots["mu"], dots["params"],
                                                        strict=True)]]
            dot_x = [settings(sweep.algorithm, m, p)[param]
                     for m, p in zip(dots["mu"], dots["params"], strict=True)]
            ax.plot(dot_x, dots["last10_acc"], linestyle="none", marker=".", markersize=4,
                    color=color, alpha=0.55)
            if np.isfinite(mean).any():
                k = int(np.nanargmax(mean))
                ax.plot([x[k]], [mean[k]], marker="o", markersize=10, markerfacecolor="none",
                        markeredgecolor=color, markeredgewidth=1.4, linestyle="none")
            label = _line_label(sweep, per_algorithm[sweep.algorithm] > 1)
            handles.setdefault(label if len(lines) > 1 else
                               f"{label} (mean ± 1 std over seeds)", drawn[0])
        base = summary_df[(summary_df["protocol"] == protocol)
                          & (summary_df["partition"] == partition)
                          & (summary_df["algorithm"] == reference.name)
                          & (summary_df["stragglers"] == sf)]
        if values and not base.empty and math.isfinite(float(base["last10_acc_mean"].iloc[0])):
            b_mean = float(base["last10_acc_mean"].iloc[0])
            b_std = float(base["last10_acc_std"].fillna(0.0).iloc[0])
            span = [min(values), max(values)]
            drawn = ax.plot(span, [b_mean] * 2, color=PALETTE[0], linestyle="--", linewidth=1.2)
            ax.fill_between(span, [b_mean - b_std] * 2, [b_mean + b_std] * 2, color=PALETTE[0],
                            alpha=0.15, linewidth=0)
            handles.setdefault(f"{reference.docs.title}, same straggler rate (no {name})",
                               drawn[0])
        _sweep_axis(ax, sorted(values))
        if j == len(levels) // 2 and i == len(panels) - 1:  # once, under the middle panel
            ax.set_xlabel(sweep_axis_label(param, sweeps))
        if j == 0:
            ax.set_ylabel(f"test accuracy, mean of last {min(LAST_K, rounds)} rounds")
        where = panel_where(protocol, partition, len(protocols) > 1)
        ax.set_title(f"{where}, {sf:.0%} stragglers" if where else f"{sf:.0%} stragglers")
    for handle, text in (_seed_dot_handle(), _best_handle()):
        handles[text] = handle
    if len(lines) > 1:
        handles[_BAND_TEXT] = _band_handle()
    texts, artists = list(handles), list(handles.values())
    kwargs: dict[str, Any] = dict(ncol=legend_columns(texts, most=3), frameon=False)
    if legend_anchor is None:
        target.legend(artists, texts, loc="outside upper center", **kwargs)
    else:
        target.legend(artists, texts, loc="upper center", bbox_to_anchor=legend_anchor,
                      **kwargs)


def draw_mu_sweep(target: Target, rounds_df: pd.DataFrame, summary_df: pd.DataFrame,
                  legend_anchor: tuple[float, float] | None = None) -> None:
    """``draw_sweep`` of μ."""
    draw_sweep(target, rounds_df, summary_df, MU, legend_anchor)


def _seed_dot_handle() -> tuple[Any, str]:
    from matplotlib.lines import Line2D

    return (Line2D([], [], color="#555555", marker=".", linestyle="none", markersize=6),
            "one seed")


_BAND_TEXT = "line and band: mean ± 1 std over seeds"


def _band_handle() -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor="#555555", alpha=0.25, edgecolor="#555555")


def _best_handle() -> tuple[Any, str]:
    from matplotlib.lines import Line2D

    return (Line2D([], [], color="#555555", marker="o", markerfacecolor="none", markersize=9,
                   linestyle="none"), "best value of a line (highest mean)")


def sweep_legend_labels(summary_df: pd.DataFrame, param: str) -> list[str]:
    """The legend of a sweep figure (for the height the page gives it)."""
    sweeps = [s for s in find_sweeps(summary_cells(summary_df)) if s.param == param]
    lines = sorted({(s.algorithm, s.fixed) for s in sweeps})
    per_algorithm = {a: sum(1 for b, _f in lines if b == a) for a, _f in lines}
    labels = [_line_label(Sweep(a, param, 0.0, f), per_algorithm[a] > 1) for a, f in lines]
    if len(labels) == 1:
        labels = [f"{labels[0]} (mean ± 1 std over seeds)"]
    reference = baseline().docs.title
    return [*labels, f"{reference}, same straggler rate (no {_setting_name(param)})",
            "one seed", "best value of a line (highest mean)",
            *([_BAND_TEXT] if len(labels) > 1 else [])]


def sweep_figure(rounds_df: pd.DataFrame, summary_df: pd.DataFrame, param: str = MU) -> Figure:
    sweeps = [s for s in find_sweeps(summary_cells(summary_df)) if s.param == param]
    n_cols = len({s.stragglers for s in sweeps}) or 1
    n_rows = len(panels_in(summary_df))
    fig = Figure(figsize=(max(6.5, 3.2 * n_cols), 1.1 + 3.3 * n_rows), layout="constrained")
    draw_sweep(fig, rounds_df, summary_df, param)
    return fig


def mu_sweep_figure(rounds_df: pd.DataFrame, summary_df: pd.DataFrame) -> Figure:
    return sweep_figure(rounds_df, summary_df, MU)


# --------------------------------------------------------------------------- β sweep

# Last-10 accuracy against the Dirichlet concentration β of the label split (p ~ Dir(β)), for
# a grid whose partitions axis has BETA_SWEEP_MIN or more β values (the same other
# parameters); IID, the β → ∞ limit, is drawn apart at the right end when the grid has it.
BETA_SWEEP_FIGURE = "beta_sweep"
BETA_SWEEP_MIN = 3
DIRICHLET, IID = "dirichlet", "iid"  # the partitioners the β axis is made of
BETA_AXIS = "Dirichlet concentration β of p ~ Dir(β) (log scale; ∞: IID)"
IID_TEXT = "IID (β = ∞): hollow marker, faint dots"
_TO_IID = (0, (1, 2.5))  # sparse dots: unlike every variant's line style


def partition_beta(label: str) -> float | None:
    """β of a Dirichlet label split, ∞ for IID, None for any other partition."""
    try:
        found, params = partition_registry.parse(label)
    except ValueError:
        return None
    if found.name == DIRICHLET:
        return float(params["beta"])
    return math.inf if found.name == IID else None


def beta_sweep_partitions(labels: Iterable[str]) -> list[str]:
    """The partition labels a β sweep draws, β ascending and IID last: the Dirichlet
    partitions with the same other parameters (min_size; the largest such group) when they
    have BETA_SWEEP_MIN or more β values, and IID when the grid has it; [] for no sweep."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    iid = []
    for label in sorted({str(v) for v in labels if v}):
        try:
            found, params = partition_registry.parse(label)
        except ValueError:
            continue
        if found.name == DIRICHLET:
            fixed = tuple(sorted((k, v) for k, v in params.items() if k != "beta"))
            groups.setdefault(fixed, []).append(label)
        elif found.name == IID:
            iid.append(label)
    group = max(sorted(groups.values()), key=len, default=[])
    if len(group) < BETA_SWEEP_MIN:
        return []
    return sorted(group, key=partition_beta) + iid


BETA_SWEEP_COLUMNS = ("protocol", "stragglers", "variant", "algorithm", "mu", "partition",
                      "beta", "last10_acc_mean", "last10_acc_std", "n_ok", "n_seeds", "status")


def beta_sweep_frame(summary_df: pd.DataFrame) -> pd.DataFrame:
    """The numbers the β sweep draws, one row per (protocol, straggler rate, variant, β):
    the cell's last-10 accuracy (mean and sample std over the seeds that did not diverge)
    and its seed counts; ``beta`` is ∞ for IID. Rows by protocol, straggler rate, variant
    (legend order) and β, IID last. Empty (with BETA_SWEEP_COLUMNS) for a grid without a
    β sweep."""
    summary_df = with_partition(summary_df)
    labels = beta_sweep_partitions(summary_df["partition"])
    if not labels:
        return pd.DataFrame([], columns=list(BETA_SWEEP_COLUMNS))
    rows = summary_df[summary_df["partition"].isin(labels)]
    rows = rows.assign(beta=[partition_beta(p) for p in rows["partition"]])
    order = {label: k for k, (_a, _m, label) in enumerate(variants_in(summary_df))}
    rank = sorted(range(len(rows)), key=lambda i: (
        str(rows["protocol"].iloc[i]), float(rows["stragglers"].iloc[i]),
        order[str(rows["variant"].iloc[i])], float(rows["beta"].iloc[i])))
    return rows.iloc[rank][list(BETA_SWEEP_COLUMNS)].reset_index(drop=True)


def beta_sweep_panels(frame: pd.DataFrame) -> list[tuple[str, float]]:
    """(protocol, straggler rate) of every panel of the β sweep (``beta_sweep_frame``)."""
    return sorted({(str(p), float(s)) for p, s in frame[["protocol", "stragglers"]]
                   .itertuples(index=False)})


def seeds_text(frame: pd.DataFrame) -> str:
    """"5 seeds", "3–5 seeds" (the seeds that did not diverge, per cell) or "one seed"."""
    counts = sorted({int(n) for n in frame["n_ok"] if int(n) > 0})
    if not counts:
        return "no seed"
    if counts == [1]:
        return "one seed"
    low, high = counts[0], counts[-1]
    return f"{high} seeds" if low == high else f"{low}–{high} seeds"


def beta_sweep_legend_labels(summary_df: pd.DataFrame) -> list[str]:
    """The legend of the β sweep (for the height the page gives it)."""
    frame = beta_sweep_frame(summary_df)
    shown = set(frame["variant"])
    labels = [label for _a, _m, label in variants_in(summary_df) if label in shown]
    labels.append(f"band, bar: ±1 std over {seeds_text(frame)}")
    if np.isinf(frame["beta"].astype(float)).any():
        labels.append(IID_TEXT)
    return labels


def _iid_position(betas: Sequence[float]) -> float:
    """Where IID (β = ∞) stands on the log β axis: one step past the largest β, the step the
    geometric mean of the steps between the β values (at least a factor of 3)."""
    low, high = min(betas), max(betas)
    step = (high / low) ** (1 / (len(betas) - 1)) if len(betas) > 1 else 10.0
    return high * max(3.0, step)


def draw_beta_sweep(target: Target, summary_df: pd.DataFrame,
                    legend_anchor: tuple[float, float] | None = None) -> None:
    """Last-10 accuracy against β (log axis), one line per variant: the mean over seeds with a
    ±1 std band, and IID (β → ∞) at the right end as a marker with a ±1 std bar, joined to
    the largest β by a dotted line (the axis is broken there: ∞ is not a point of the
    scale). One panel per (protocol, straggler rate); they share the accuracy axis."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    frame = beta_sweep_frame(summary_df)
    variants = [v for v in variants_in(summary_df) if v[2] in set(frame["variant"])]
    styles = variant_styles(variants_in(summary_df))
    panels = beta_sweep_panels(frame)
    many_protocols = len({p for p, _s in panels}) > 1
    many_rates = len({s for _p, s in panels}) > 1
    finite = sorted({float(b) for b in frame["beta"] if math.isfinite(b)})
    has_iid = bool(np.isinf(frame["beta"].astype(float)).any())
    x_iid = _iid_position(finite)
    rounds = int(summary_df["rounds"].max())
    axes = target.subplots(1, max(1, len(panels)), squeeze=False, sharey=True)[0]
    for ax, (protocol, sf) in zip(axes, panels, strict=True):
        mine = frame[(frame["protocol"] == protocol) & (frame["stragglers"] == sf)]
        for k, (_a, _m, label) in enumerate(variants):
            line = mine[mine["variant"] == label]
            st = styles[label]
            on_axis = line[np.isfinite(line["beta"].astype(float))]
            x = on_axis["beta"].to_numpy(dtype=float)
            mean = on_axis["last10_acc_mean"].to_numpy(dtype=float)
            std = on_axis["last10_acc_std"].fillna(0.0).to_numpy(dtype=float)
            ax.plot(x, mean, color=st["color"], linestyle=st["linestyle"], marker=st["marker"],
                    markersize=4, linewidth=1.3)
            ax.fill_between(x, mean - std, mean + std, color=st["color"], alpha=0.12,
                            linewidth=0)
            iid = line[np.isinf(line["beta"].astype(float))]
            if iid.empty:
                continue
            # the variants side by side at ∞, so that their bars do not hide one another
            xi = x_iid * 10 ** (0.018 * (k - (len(variants) - 1) / 2))
            yi = float(iid["last10_acc_mean"].iloc[0])
            si = float(iid["last10_acc_std"].fillna(0.0).iloc[0])
            if len(x) and math.isfinite(mean[-1]) and math.isfinite(yi):
                ax.plot([x[-1], xi], [mean[-1], yi], color=st["color"], linestyle=_TO_IID,
                        linewidth=0.9, alpha=0.6)
            ax.errorbar([xi], [yi], yerr=[si], color=st["color"], marker=st["marker"],
                        markersize=4.5, markerfacecolor="white", capsize=2.5, linewidth=1.1)
        ax.set_xscale("log")
        ticks = finite + ([x_iid] if has_iid else [])
        ax.set_xticks(ticks, [f"{b:g}" for b in finite] + (["∞ (IID)"] if has_iid else []))
        ax.minorticks_off()
        if has_iid:  # the axis is broken between the largest β and ∞
            middle = math.sqrt(finite[-1] * x_iid)
            ax.text(middle, 0.0, "//", transform=ax.get_xaxis_transform(), ha="center",
                    va="center", fontsize=9, color="#333333", clip_on=False,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax.set_xlabel(BETA_AXIS)
        where = ", ".join(([protocol] if many_protocols else [])
                          + ([f"{sf:.0%} stragglers"] if many_rates else []))
        ax.set_title(f"{where}: last-{LAST_K} accuracy against β" if where
                     else f"Last-{LAST_K} accuracy against β ({sf:.0%} stragglers)")
    axes[0].set_ylabel(f"test accuracy, mean of last {min(LAST_K, rounds)} rounds")
    handles: list[Any] = [Line2D([], [], color=styles[label]["color"],
                                 linestyle=styles[label]["linestyle"],
                                 marker=styles[label]["marker"], markersize=4, linewidth=1.4)
                          for _a, _m, label in variants]
    handles.append(Patch(facecolor="#555555", alpha=0.25, edgecolor="#555555"))
    if has_iid:
        handles.append(Line2D([], [], color="#555555", linestyle=_TO_IID, marker="o",
                              markerfacecolor="white", markersize=4.5, linewidth=0.9))
    texts = beta_sweep_legend_labels(summary_df)
    kwargs: dict[str, Any] = dict(ncol=legend_columns(texts, most=3), frameon=False)
    if legend_anchor is None:
        target.legend(handles, texts, loc="outside upper center", **kwargs)
    else:
        target.legend(handles, texts, loc="upper center", bbox_to_anchor=legend_anchor,
                      **kwargs)


def beta_sweep_figure(summary_df: pd.DataFrame) -> Figure:
    n = max(1, len(beta_sweep_panels(beta_sweep_frame(summary_df))))
    fig = Figure(figsize=(max(6.5, 4.2 * n), 5.0), layout="constrained")
    draw_beta_sweep(fig, summary_df)
    return fig


# --------------------------------------------------------------------------- partial work

# the two curves of a partial-work claim (FedNova against FedProx μ = 0), per straggler rate
PARTIAL_WORK_FIGURE = "partial_work"


def partial_work_variants(summary_df: pd.DataFrame) -> list[str]:
    """The variant labels a partial-work figure draws: each claimant and its reference."""
    labels: list[str] = []
    for pair in partial_work_pairs(summary_cells(summary_df)):
        for text in (pair.claimant_label, pair.reference_label):
            if text not in labels:
                labels.append(text)
    return labels


def partial_work_grid(rounds_df: pd.DataFrame, summary_df: pd.DataFrame
                      ) -> list[list[tuple[str, str, float, str, str]]]:
    """The panels of the partial-work figure, row by row: (protocol, partition, straggler rate,
    metric, axis label). A column per straggler rate and two rows (accuracy, loss) per
    protocol; with partitions, a row per (protocol, partition, straggler rate) and a column
    per metric (as the curves), so that five partitions do not make ten rows of panels."""
    shown = partial_work_variants(summary_df)
    mine = with_partition(rounds_df[rounds_df["variant"].isin(shown)])
    levels = sorted({float(s) for s in mine["stragglers"]})
    metrics = {}
    for protocol in sorted({str(p) for p in mine["protocol"]}):
        of = mine[mine["protocol"] == protocol]
        loss = ("global_train_loss", "training loss (all clients)") if (
            "global_train_loss" in of and of["global_train_loss"].notna().any()) else (
            "test_loss", "test loss (mean CE)")
        metrics[protocol] = [("test_accuracy", "test accuracy"), loss]
    if not has_partitions(mine):
        return [[(protocol, "", sf, metric, ylabel) for sf in levels]
                for protocol in metrics for metric, ylabel in metrics[protocol]]
    return [[(protocol, partition, sf, metric, ylabel) for metric, ylabel in metrics[protocol]]
            for protocol, partition in panels_in(mine) for sf in levels]


def draw_partial_work(target: Target, rounds_df: pd.DataFrame, summary_df: pd.DataFrame,
                      legend_anchor: tuple[float, float] | None = None) -> None:
    """The curves of a partial-work claim: one column per straggler rate (a row of panels per
    protocol and metric; with partitions a row per partition, ``partial_work_grid``): test
    accuracy, and the training loss over every client's data where the protocol evaluates it
    (else the test loss), per round, mean over seeds with ±1 std bands; the variants keep the
    colours of the report's other figures."""
    shown = partial_work_variants(summary_df)
    styles = variant_styles(variants_in(summary_df))
    mine = with_partition(rounds_df[rounds_df["variant"].isin(shown)])
    many = mine["protocol"].nunique() > 1
    partitioned = has_partitions(mine)
    grid = partial_work_grid(rounds_df, summary_df)
    axes = target.subplots(len(grid), len(grid[0]), squeeze=False, sharex=True)
    bands = {m: seed_bands(mine, m) for m in {panel[3] for row in grid for panel in row}}
    for i, row in enumerate(grid):
        for j, (protocol, partition, sf, metric, ylabel) in enumerate(row):
            ax = axes[i, j]
            data = bands[metric]
            data = data[(data["protocol"] == protocol) & (data["partition"] == partition)
                        & (data["stragglers"] == sf)]
            for label in reversed(shown):
                line = data[data["variant"] == label].dropna(subset=["mean"])
                if line.empty:
                    continue
                st = styles[label]
                ax.plot(line["round"], line["mean"], color=st["color"],
                        linestyle=st["linestyle"], linewidth=1.3)
                ax.fill_between(line["round"], line["mean"] - line["std"],
                                line["mean"] + line["std"], color=st["color"], alpha=0.18,
                                linewidth=0)
            if metric != "test_accuracy" and len(data) and (data["mean"] > 0).all():
                # spikes of one variant would flatten the other on a linear axis; the bands'
                # lower edges (mean − std) may be ≤ 0, so the axis starts under the lowest mean
                ax.set_yscale("log")
                ax.set_ylim(bottom=0.7 * float(data["mean"].min()))
            where = panel_where(protocol, partition, many)
            where = f"{where}, " if where else ""
            ax.set_title(f"{where}{sf:.0%} stragglers — {ylabel.split(' (')[0]}", fontsize=8.5)
            if j == 0 or partitioned:
                ax.set_ylabel(ylabel)
            if i == len(grid) - 1:
                ax.set_xlabel("round")
    _legend(target, [(lab, 0.0, lab) for lab in shown], styles, markers=False,
            anchor=legend_anchor)


def partial_work_figure(rounds_df: pd.DataFrame, summary_df: pd.DataFrame) -> Figure:
    if has_partitions(summary_df):
        grid = partial_work_grid(rounds_df, summary_df)
        n_rows, n_cols = len(grid), len(grid[0])
    else:
        n_cols = max(1, summary_df["stragglers"].nunique())
        n_rows = 2 * summary_df["protocol"].nunique()
    fig = Figure(figsize=(max(6.5, 2.6 * n_cols), 0.8 + 2.2 * n_rows), layout="constrained")
    draw_partial_work(fig, rounds_df, summary_df)
    return fig


# --------------------------------------------------------------------------- rounds to target

TARGET_FIGURE = "target_curves"


def batch_text(batch: int) -> str:
    """B as the papers write it: "∞" for the full local batch (``FULL_BATCH``)."""
    return "∞" if int(batch) == FULL_BATCH else str(int(batch))


def partition_label(protocol: str) -> str:
    """The short name of a protocol's split in tables and panel titles ("IID", "non-IID"):
    its ``docs.short_title``; a protocol without one, or no longer registered, by its name."""
    found = registry().get(protocol)
    return found.docs.short_title if found is not None and found.docs.short_title else protocol


def target_panels(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """(protocol, model) of every panel of the target curves, in drawing order."""
    return sorted({(p, m) for p, m in curves[["protocol", "model"]].itertuples(index=False)})


def _batch_last(epochs: Any, batch: Any, *rest: Any) -> tuple[Any, ...]:
    """Order of settings in legends and colours: by E, then B (B = ∞ last), then lr."""
    return (int(epochs), batch_order(batch), *rest)


def _setting_colors(curves: pd.DataFrame) -> dict[tuple[int, int], Any]:
    """One colour per (E, B), the same in every panel."""
    from matplotlib import colormaps

    keys = sorted({(int(e), int(b)) for e, b in curves[["local_epochs", "batch_size"]]
                   .itertuples(index=False)}, key=lambda eb: _batch_last(*eb))
    cmap = colormaps["tab10"]
    return {k: cmap(i % 10) for i, k in enumerate(keys)}


def _y_floor(mine: pd.DataFrame, target: float) -> float:
    """Bottom of a panel's accuracy axis: at most 10 points under the target, low enough
    that every setting's best accuracy shows."""
    trained = mine[mine["round"] >= 1]
    best = trained.groupby(["local_epochs", "batch_size", "lr", "seed"])["test_accuracy"].max()
    lowest_best = float(best.min()) if len(best) and best.notna().any() else 0.0
    floor = min(target - 0.1 if math.isfinite(target) else 0.0, lowest_best - 0.02)
    return max(0.0, math.floor(floor * 100) / 100)


def draw_target_curves(fig: Target, curves: pd.DataFrame, runs_df: pd.DataFrame | None = None,
                       panels: Sequence[tuple[str, str]] | None = None) -> None:
    """Test accuracy per round, one panel per (partition, model), one colour per (E, B).

    Each seed is a thin line; the thick line is the mean over seeds, drawn only over the
    rounds every seed ran (a run that stopped at the target or diverged ends its line, so
    the mean never becomes the mean of the seeds left). A dot marks where a run stopped at
    the target; the dotted line is the target. Long runs (more than 100 rounds) get a
    logarithmic round axis.
    """
    panels = list(panels) if panels is not None else target_panels(curves)
    colors = _setting_colors(curves)
    stopped = {}
    if runs_df is not None and "stopped_at_target" in runs_df:
        for r in runs_df.itertuples(index=False):
            if r.stopped_at_target is not None and r.stopped_at_target == r.stopped_at_target:
                stopped[(r.protocol, r.model, int(r.local_epochs), int(r.batch_size),
                         float(r.lr), int(r.seed))] = int(r.stopped_at_target)
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    for ax, (protocol, model) in zip(axes, panels, strict=False):
        mine = curves[(curves["protocol"] == protocol) & (curves["model"] == model)]
        target = target_of(protocol, model)
        log_x = int(mine["round"].max()) > 100
        shown = mine[mine["round"] >= 1] if log_x else mine
        any_stop = False
        marked: set[str] = set()
        settings = shown.groupby(["local_epochs", "batch_size", "lr"], sort=True)
        for (e, b, lr), line in sorted(settings, key=lambda kv: _batch_last(*kv[0])):
            color = colors[(int(e), int(b))]
            wide = line.pivot(index="round", columns="seed",
                              values="test_accuracy").sort_index()
            n = wide.shape[1]
            if n > 1:
                for seed in wide.columns:
                    s = wide[seed].dropna()
                    ax.plot(s.index, s.to_numpy(), color=color, linewidth=0.5, alpha=0.35)
            common = wide.dropna(how="any")  # rounds every seed ran
            label = f"E={int(e)} B={batch_text(b)} lr={float(lr):g}"
            ax.plot(common.index, common.mean(axis=1).to_numpy(), color=color, linewidth=1.3,
                    label=label)
            for seed in wide.columns:
                r = stopped.get((protocol, model, int(e), int(b), float(lr), int(seed)))
                if r is not None and r in wide.index:
                    any_stop = True
                    ax.plot([r], [wide.at[r, seed]], marker="o", markersize=3.2, color=color,
                            linestyle="none")
            if math.isfinite(target):  # the published rounds to target, on the target line
                marked |= _published_rounds(ax, protocol, model, int(e), int(b), target, color)
        if math.isfinite(target):
            ax.axhline(target, color="#333333", linewidth=0.8, linestyle=":",
                       label=f"target {target:.0%}")
            ax.set_ylim(_y_floor(mine, target), 1.0)
        if any_stop:
            ax.plot([], [], marker="o", markersize=3.2, color="#555555", linestyle="none",
                    label="run stopped at the target")
        for kind in (k for k in ROUNDS_MARKERS if k in marked):  # the table first
            ax.plot([], [], linestyle="none", color="#555555", label=ROUNDS_MARKERS[kind][1],
                    **ROUNDS_MARKERS[kind][0])
        if log_x:
            ax.set_xscale("log")
            ax.set_xlim(left=1)
        ax.set_title(f"{model.upper()}, {partition_label(protocol)} ({protocol})", fontsize=8.5)
        ax.set_xlabel("round" + (" (log scale)" if log_x else ""))
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


# published rounds to target drawn on the target line: (marker style, legend text)
ROUNDS_MARKERS = {
    "table": ({"marker": "D", "markersize": 5.5, "markeredgecolor": "#222222"},
              "McMahan et al. Table 2 (rounds to target)"),
    "replication": ({"marker": "s", "markersize": 5.5, "markerfacecolor": "white"},
                  "Flower's replication (rounds to target)"),
}


def _published_rounds(ax, protocol: str, model: str, epochs: int, batch: int, target: float,
                      color: Any) -> set[str]:
    """Mark a setting's published rounds to target at (rounds, target); the kinds drawn."""
    drawn = set()
    for kind, rounds in zip(("table", "replication"),
                            published_for(protocol, model, epochs, batch), strict=True):
        if rounds is not None:
            style = dict(ROUNDS_MARKERS[kind][0])
            style.setdefault("markerfacecolor", color)
            ax.plot([rounds], [target], linestyle="none", color=color, zorder=6, **style)
            drawn.add(kind)
    return drawn


def target_curves_figure(curves: pd.DataFrame, runs_df: pd.DataFrame | None = None) -> Figure:
    n = len(target_panels(curves))
    fig = Figure(figsize=(7.5, 0.6 + 2.6 * max(1, n)), layout="constrained")
    draw_target_curves(fig, curves, runs_df)
    return fig


def save_target_curves(curves: pd.DataFrame, runs_df: pd.DataFrame | None,
                       figures_dir: str | Path) -> list[Path]:
    """Write figures/target_curves.{png,pdf}."""
    written = []
    with style():
        fig = target_curves_figure(curves, runs_df)
        for fmt in FORMATS:
            path = Path(figures_dir) / f"{TARGET_FIGURE}.{fmt}"
            save_figure(fig, path)
            written.append(path)
    return written

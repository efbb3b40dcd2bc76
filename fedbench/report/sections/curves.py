"""The "Results" section: test loss and accuracy per round, laid out as the published figure
(rows: straggler rate, and partition for a grid with a partitions axis; columns: loss,
accuracy), mean over seeds with ±1 std bands."""

from __future__ import annotations

import pandas as pd

from fedbench.algorithms import baseline, registry
from fedbench.analysis.summary import LAST_K
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document
from fedbench.report.sections import GridReport, Section

HEADING = "Results"
CURVE_ROWS = 5  # rows of panels on a page of curves, for a grid with partitions


def _without_stragglers_alike() -> str:
    """"FedAvg and FedProx μ=0": the baseline and every proximal algorithm at μ = 0, which
    differ only in what they do with stragglers."""
    reference = baseline()
    alike = [a.label(0.0) for a in registry().values() if a.uses_mu and not a.baseline]
    return " and ".join([reference.label(0.0), *alike])


def add(doc: Document, report: GridReport) -> None:
    summary = report.summary
    n_seeds = len(report.prov.get("seeds", [])) or int(summary["n_seeds"].max())
    published = figures.published_shown(report.rounds)
    per_row = "straggler rate"
    if figures.has_partitions(summary):
        per_row = ("partition and straggler rate" if summary["stragglers"].nunique() > 1 else
                   f"partition (all at {summary['stragglers'].iloc[0]:.0%} stragglers)")
    doc.new_page()
    doc.heading(HEADING, keep_with=5.0)
    doc.paragraph(
        f"Test loss and test accuracy per round, one row per {per_row}. Lines are the "
        f"mean over {n_seeds} seed(s), bands ±1 standard deviation; diverged runs are left "
        f"out. Layout as in the published figure (rows: straggler rate; columns: loss, "
        f"accuracy)."
        + (f" At 0 % stragglers {_without_stragglers_alike()} are the same algorithm with the "
           "same draws, so their lines coincide." if (summary["stragglers"] == 0).any() else "")
        + (" Hollow diamonds right of the last round: the published accuracy of that cell, "
           "with its range." if published else ""))
    doc.paragraph(
        f"Metrics: test loss (mean cross-entropy) and accuracy of the global model after "
        f"every round, on the protocol's test data; round 0 is the initial model. "
        f"“Last-{LAST_K}” is, per seed, the mean accuracy over the last {LAST_K} rounds, then "
        f"mean ± sample std over seeds: it is the regression metric checked in CI.",
        size=8.5, color=MUTED)
    legend_h = figures.legend_height(figures.legend_labels(report.rounds, published))
    if figures.has_partitions(summary):
        _add_pages(doc, report, legend_h)
        return
    rows = summary[["protocol", "stragglers"]].drop_duplicates().shape[0]
    height = None if rows > 1 else min(doc.room(), 4.5)  # one row: not a whole page tall
    doc.plot(lambda fig, anchor: figures.draw_curves(fig, report.rounds, anchor),
             height=height, legend_h=legend_h)


def curve_pages(summary: pd.DataFrame) -> list[list[tuple[str, str]]]:
    """The (protocol, partition) panels of each page of curves of a grid with partitions:
    CURVE_ROWS rows of panels to a page at most (a partition keeps its straggler rates
    together)."""
    panels = figures.panels_in(summary)
    per_page = max(1, CURVE_ROWS // max(1, summary["stragglers"].nunique()))
    return [panels[k:k + per_page] for k in range(0, len(panels), per_page)]


def _add_pages(doc: Document, report: GridReport, legend_h: float) -> None:
    rounds = figures.with_partition(report.rounds)
    n_levels = max(1, report.summary["stragglers"].nunique())
    many = report.summary["protocol"].nunique() > 1
    for page in curve_pages(report.summary):
        mine = rounds[[(p, d) in page for p, d in
                       zip(rounds["protocol"], rounds["partition"], strict=True)]]
        rows = len(page) * n_levels
        height = None if rows >= CURVE_ROWS else 0.3 + 1.9 * rows + legend_h
        doc.plot(lambda fig, anchor, mine=mine: figures.draw_curves(
            fig, mine, anchor, many_protocols=many, rates=n_levels > 1),
                 height=height, legend_h=legend_h)


SECTION = Section(HEADING, add)

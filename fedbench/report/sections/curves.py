"""The "Results" section: test loss and accuracy per round, laid out as the published figure
(rows: straggler rate; columns: loss, accuracy), mean over seeds with ±1 std bands."""

from __future__ import annotations

from fedbench.algorithms import baseline, registry
from fedbench.analysis.summary import LAST_K
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document
from fedbench.report.sections import GridReport, Section

HEADING = "Results"


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
    doc.new_page()
    doc.heading(HEADING, keep_with=5.0)
    doc.paragraph(
        f"Test loss and test accuracy per round, one row per straggler rate. Lines are the "
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
    rows = summary[["protocol", "stragglers"]].drop_duplicates().shape[0]
    height = None if rows > 1 else min(doc.room(), 4.5)  # one row: not a whole page tall
    doc.plot(lambda fig, anchor: figures.draw_curves(fig, report.rounds, anchor),
             height=height,
             legend_h=figures.legend_height(figures.legend_labels(report.rounds, published)))


SECTION = Section(HEADING, add)

"""The "Paired comparison" section: each variant minus the baseline (FedAvg) at the same
straggler rate, paired by seed, with its 95 % t interval (``fedbench.analysis.summary``)."""

from __future__ import annotations

from fedbench.algorithms import baseline
from fedbench.analysis.summary import LAST_K, paired_table
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns
from fedbench.report.sections import GridReport, Section

HEADING = "Paired comparison"


def add(doc: Document, report: GridReport) -> None:
    summary = report.summary
    paired = paired_table(summary)
    reference = baseline().docs.title
    forest_h = min(figures.forest_height(summary), 7.0)  # the forest plot under the table
    # keep the section whole on one page when it fits on a fresh one; a page holds one plot
    if doc.has_plot:
        doc.new_page()
    doc.heading(HEADING, keep_with=min(1.2 + 0.2 * len(paired) + forest_h, 10.0))
    doc.paragraph(
        f"Each variant minus {reference} at the same straggler rate, paired by seed (same "
        f"partition, clients and stragglers), on the last-{LAST_K} accuracy. Interval: "
        f"mean ± t(0.975, n−1)·s/√n over the n per-seed differences (95 % Student t); "
        f"“significant” means it excludes 0. With fewer than two pairs there is no "
        f"interval.", size=8.5)
    if summary["protocol"].nunique() <= 1:
        paired = paired.drop(columns=["Protocol"])
    paired_rows = [[str(v) for v in r] for r in paired.itertuples(index=False)]
    if paired_rows:
        titles = list(paired.columns)
        align = ["right" if t in ("Pairs", "Δ last-10 acc.", "95% CI") else "left"
                 for t in titles]
        doc.table(columns(titles, paired_rows, 8, align), paired_rows, size=8)
        doc.plot(lambda fig, _anchor: figures.draw_forest(fig, summary), height=forest_h,
                 legend_h=0.05)
    else:
        doc.paragraph(f"No cell to compare: the grid has no {reference} cell or no other "
                      "variant.", size=8.5, color=MUTED)


SECTION = Section(HEADING, add)

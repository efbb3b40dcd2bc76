"""The "Paired comparison" section: each variant minus the baseline (FedAvg) at the same
straggler rate (and partition), paired by seed, with its 95 % t interval
(``fedbench.analysis.summary``)."""

from __future__ import annotations

import pandas as pd

from fedbench.algorithms import baseline
from fedbench.analysis.summary import LAST_K, paired_table
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns
from fedbench.report.sections import GridReport, Section

HEADING = "Paired comparison"


def paired_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """``paired_table`` with, for a grid with partitions, a "Partition" column after the
    protocol ("p~Dir(0.5)"), rows by protocol and partition (``figures.sort_by_partition``)."""
    if not figures.has_partitions(summary):
        return paired_table(summary)
    summary = figures.sort_by_partition(summary)
    paired = paired_table(summary)
    compared = figures.forest_rows(summary)  # paired_table's rows, in its order
    paired.insert(1, "Partition", [figures.partition_short(str(p))
                                   for p in compared["partition"]])
    return paired


def add(doc: Document, report: GridReport) -> None:
    summary = report.summary
    paired = paired_rows(summary)
    partitioned = figures.has_partitions(summary)
    reference = baseline().docs.title
    forest_h = min(figures.forest_height(summary), 7.0)  # the forest plot under the table
    # keep the section whole on one page when it fits on a fresh one; a page holds one plot
    if doc.has_plot:
        doc.new_page()
    doc.heading(HEADING, keep_with=min(1.2 + 0.2 * len(paired) + forest_h, 10.0))
    same = "straggler rate and partition" if partitioned else "straggler rate"
    doc.paragraph(
        f"Each variant minus {reference} at the same {same}, paired by seed (same "
        f"partition, clients and stragglers), on the last-{LAST_K} accuracy. Interval: "
        f"mean ± t(0.975, n−1)·s/√n over the n per-seed differences (95 % Student t); "
        f"“significant” means it excludes 0. With fewer than two pairs there is no "
        f"interval.", size=8.5)
    if summary["protocol"].nunique() <= 1:
        paired = paired.drop(columns=["Protocol"])
    if partitioned and summary["stragglers"].nunique() == 1:  # said under the plot
        paired = paired.drop(columns=["Stragglers"])
    table = [[str(v) for v in r] for r in paired.itertuples(index=False)]
    if table:
        titles = list(paired.columns)
        align = ["right" if t in ("Pairs", "Δ last-10 acc.", "95% CI") else "left"
                 for t in titles]
        doc.table(columns(titles, table, 8, align), table, size=8)
        doc.plot(lambda fig, _anchor: figures.draw_forest(fig, summary), height=forest_h,
                 legend_h=0.05)
    else:
        doc.paragraph(f"No cell to compare: the grid has no {reference} cell or no other "
                      "variant.", size=8.5, color=MUTED)


SECTION = Section(HEADING, add)

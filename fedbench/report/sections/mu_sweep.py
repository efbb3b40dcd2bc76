"""The "μ sweep" section, for a grid that varies μ of an algorithm with a proximal term at a
fixed straggler rate (the FL course's exercise): last-10 accuracy against μ with seed bands,
beside the baseline at the same straggler rate, and the paired difference at every μ."""

from __future__ import annotations

import math

from fedbench.algorithms import baseline
from fedbench.algorithms import registry as algorithms
from fedbench.analysis.summary import LAST_K
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns, pm, rate
from fedbench.report.sections import GridReport, Section

HEADING = "μ sweep"


def sweep_rows(report: GridReport) -> tuple[list[str], list[list[str]]]:
    """(header, rows): per swept line and μ the seeds, last-10 accuracy and the paired
    difference to the baseline at the same straggler rate."""
    summary = report.summary
    many = summary["protocol"].nunique() > 1
    header = (["Protocol"] if many else []) + [
        "Stragglers", "Variant", "μ", "Seeds ok", f"Last-{LAST_K} acc.",
        f"Δ vs {baseline().docs.title}", "95% CI"]
    rows = []
    for algorithm, sf in figures.mu_sweeps(figures.summary_cells(summary)):
        line = summary[(summary["algorithm"] == algorithm) & (summary["stragglers"] == sf)]
        for r in line.sort_values(["protocol", "mu"]).itertuples(index=False):
            ci = ("—" if not math.isfinite(r.paired_ci_low) else
                  f"[{r.paired_ci_low:+.3f}, {r.paired_ci_high:+.3f}]")
            diff = r.paired_diff_last10_mean
            rows.append(([r.protocol] if many else []) + [
                rate(sf), algorithms()[algorithm].docs.title, f"{r.mu:g}",
                f"{int(r.n_ok)}/{int(r.n_seeds)}", pm(r.last10_acc_mean, r.last10_acc_std, 3),
                "—" if not math.isfinite(diff) else f"{diff:+.3f}", ci])
    return header, rows


def add(doc: Document, report: GridReport) -> None:
    if not figures.mu_sweeps(figures.summary_cells(report.summary)):
        return
    header, rows = sweep_rows(report)
    doc.new_page()
    doc.heading(f"{HEADING}: last-{LAST_K} accuracy against μ", keep_with=4.5)
    doc.paragraph(
        f"The grid varies the proximal weight μ at a fixed straggler rate. Per μ: the "
        f"last-{LAST_K} test accuracy, mean over seeds (line) with a ±1 standard deviation band "
        f"and every seed as a dot; the dashed line and its band are {baseline().docs.title} at "
        "the same straggler rate, which has no μ. μ = 0 keeps the stragglers' partial work "
        "without the proximal term; the axis is logarithmic above the smallest μ > 0 and "
        f"linear below it, so μ = 0 is shown. (figures/{figures.MU_SWEEP_FIGURE}.pdf)",
        size=8.5)
    doc.plot(lambda fig, anchor: figures.draw_mu_sweep(fig, report.rounds, report.summary,
                                                       anchor), height=4.4, legend_h=0.45)
    align = ["left"] * (len(header) - 5) + ["right"] * 5
    doc.table(columns(header, rows, 8, align), rows, size=8)
    doc.paragraph(f"Δ: minus {baseline().docs.title} at the same straggler rate, paired by "
                  "seed, with its 95 % Student t interval (as in “Paired comparison”).",
                  size=8, color=MUTED)


SECTION = Section(HEADING, add, conditional=True)

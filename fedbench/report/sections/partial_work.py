"""The "Objective inconsistency" section: a paper's claim about plain averaging of unequal local
work (FedNova's, Wang et al., NeurIPS 2020), measured on the straggler grid against the plain
average that keeps the stragglers' partial work (FedProx μ = 0), both found through the
registry. Per straggler rate the paired differences of ``fedbench.analysis.partial_work`` and
the two variants' curves; with a partitions axis, per partition and straggler rate (each
partition's runs differenced apart: a seed names one draw per partition)."""

from __future__ import annotations

import math

import pandas as pd

from fedbench.algorithms import registry
from fedbench.analysis.partial_work import partial_work_differences, partial_work_pairs
from fedbench.analysis.summary import LAST_K
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns, join, rate
from fedbench.report.sections import GridReport, Section

HEADING = "Objective inconsistency"
# What fedbench could find of the paper's Synthetic(1,1) figure: said as it is, no numbers.
PAPER_FIGURE = (
    "The paper also illustrates the claim on Synthetic(1,1), the FedProx paper's non-IID "
    "logistic regression, with clients running different numbers of local steps, comparing the "
    "training loss of FedNova with FedAvg's and FedProx's in FedNova's favour. fedbench found "
    "no values of that figure it could cite (only the paper's text could be searched), so the "
    "figure is described here only qualitatively and no number read off it stands beside "
    "fedbench's.")


def _signed(value: float, digits: int = 4) -> str:
    return "—" if not math.isfinite(value) else f"{value:+.{digits}f}"


def differences(rounds: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """``partial_work_differences`` of each partition apart, with a ``partition`` column ("" for
    none), by protocol and partition."""
    rounds, summary = figures.with_partition(rounds), figures.with_partition(summary)
    parts = [partial_work_differences(rounds[rounds["partition"] == partition],
                                      summary[summary["partition"] == partition])
             .assign(partition=partition) for partition in figures.partitions_in(summary)]
    if len(parts) == 1:
        return parts[0]
    return figures.sort_by_partition(pd.concat(parts, ignore_index=True))


def difference_rows(diffs: pd.DataFrame, many: bool) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the paired differences: per straggler rate (and partition) and
    metric."""
    claimant, reference = diffs["claimant"].iloc[0], diffs["reference"].iloc[0]
    partitioned = figures.has_partitions(diffs)
    header = (["Protocol"] if many else []) + (["Partition"] if partitioned else []) + [
        "Stragglers", "Metric", "Pairs", claimant, reference, "Δ", "95% CI", "Favours"]
    rows = []
    for r in figures.with_partition(diffs).itertuples(index=False):
        ci = ("—" if not math.isfinite(r.ci_low) else
              f"[{_signed(r.ci_low)}, {_signed(r.ci_high)}]")
        rows.append(([r.protocol] if many else [])
                    + ([figures.partition_short(str(r.partition))] if partitioned else []) + [
            rate(r.stragglers), r.metric, str(int(r.n_pairs)), f"{r.claimant_mean:.4f}",
            f"{r.reference_mean:.4f}", _signed(r.diff_mean), ci, r.favours])
    return header, rows


def verdict(diffs: pd.DataFrame) -> str:
    """What the intervals say, metric by metric: at which straggler rates the claimant is
    better, worse, or not told apart (the interval holds 0)."""
    claimant, reference = diffs["claimant"].iloc[0], diffs["reference"].iloc[0]
    parts = []
    for metric, mine in diffs.groupby("metric", sort=False):
        where = {who: [rate(s) for s in mine[mine["favours"] == who]["stragglers"]]
                 for who in (claimant, reference, "neither")}
        said = []
        if where[claimant]:
            said.append(f"{claimant} better at {join(where[claimant])}")
        if where[reference]:
            said.append(f"{reference} better at {join(where[reference])}")
        if where["neither"]:
            said.append(f"not told apart at {join(where['neither'])}")
        parts.append(f"{metric}: {'; '.join(said)}")
    return ". ".join(parts) + "."


def add(doc: Document, report: GridReport) -> None:
    pairs = partial_work_pairs(figures.summary_cells(report.summary))
    if not pairs:
        return
    diffs = differences(report.rounds, report.summary)
    many = report.summary["protocol"].nunique() > 1
    for pair in pairs:
        algorithm = registry()[pair.claimant]
        mine = diffs[(diffs["claimant"] == pair.claimant_label)
                     & (diffs["reference"] == pair.reference_label)]
        doc.new_page()
        doc.heading(f"{HEADING}: {pair.claimant_label} against {pair.reference_label}",
                    keep_with=3.0)
        doc.paragraph(f"The claim. {algorithm.docs.partial_work_claim} "
                      f"(Source: {algorithm.docs.partial_work_claim_source}.)", size=8.5)
        doc.paragraph(
            f"Here. A straggler trains 1 to E−1 local epochs instead of E, and every client "
            f"runs E epochs over its own number of examples, so local work is unequal at "
            f"every straggler rate, 0 % included. {pair.reference_label} averages that partial "
            f"work as it is (weighted by examples); {pair.claimant_label} normalises it. Both "
            "see the same clients and stragglers for a seed, so each metric is differenced "
            f"seed by seed ({pair.claimant_label} − {pair.reference_label}), with the 95 % "
            "Student t interval over the seeds. Accuracy: higher is better; losses: lower is "
            "better. “Favours” names the variant the interval favours, “neither” when it "
            "holds 0.", size=8.5)
        doc.paragraph(PAPER_FIGURE, size=8.5, color=MUTED)
        if mine.empty:
            doc.paragraph("No straggler rate has runs of both variants with the same round "
                          "count and a seed in common: nothing to compare.", size=8.5,
                          color=MUTED)
            continue
        header, rows = difference_rows(mine, many)
        align = ["left"] * (len(header) - 6) + ["right"] * 5 + ["left"]
        doc.table(columns(header, rows, 7.5, align, wrap_titles=True), rows, size=7.5)
        doc.paragraph(f"Accuracy: the mean over each seed's last {LAST_K} rounds; losses at the "
                      "last round, the test loss on the test set, the training loss over every "
                      "client's training data (the objective itself). Columns "
                      f"{pair.claimant_label} and {pair.reference_label}: means over the paired "
                      "seeds; Δ: their paired difference.", size=8, color=MUTED)
        if figures.has_partitions(mine):
            said = " ".join(
                f"{figures.panel_where(protocol, str(partition), many)}: {verdict(of)}"
                for (protocol, partition), of in mine.groupby(["protocol", "partition"],
                                                             sort=False))
        elif many:
            said = " ".join(f"{protocol}: {verdict(of)}"
                            for protocol, of in mine.groupby("protocol", sort=True))
        else:
            said = verdict(mine)
        doc.paragraph(f"What the intervals say. {said}", size=8.5)
        if not mine["metric"].str.startswith("final training").any():
            doc.paragraph("The training loss over every client's data (the objective itself) "
                          "is measured only by protocols evaluated as the FedProx paper does "
                          "(federated); this grid's protocol evaluates on the test set, so the "
                          "test loss stands in for it.", size=8, color=MUTED)
        labels = figures.partial_work_variants(report.summary)
        legend_h = figures.legend_height(labels)
        # two rows of panels (accuracy, loss) per protocol (with partitions: a row per
        # partition and straggler rate); a page of its own when it does not fit under the table
        rows = (len(figures.partial_work_grid(report.rounds, report.summary))
                if figures.has_partitions(report.summary)
                else 2 * report.summary["protocol"].nunique())
        height = min(legend_h + 0.3 + 2.0 * rows, 9.6)
        doc.plot(lambda fig, anchor: figures.draw_partial_work(fig, report.rounds,
                                                               report.summary, anchor),
                 height=height, legend_h=legend_h)


SECTION = Section(HEADING, add, conditional=True)

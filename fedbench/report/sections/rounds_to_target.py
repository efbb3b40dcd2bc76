"""The "Rounds to target accuracy" section: per setting the rounds each seed needed to reach
the target and their median, beside the published table and its reference replication."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fedbench.analysis.targets import DIVERGED_MARK, FAILED_MARK
from fedbench.protocols import registry
from fedbench.report.figures import batch_text, partition_label
from fedbench.report.layout import MUTED, Document, columns
from fedbench.report.sections import Section, TargetsReport

HEADING = "Rounds to target accuracy"
HEADER = ["Partition", "Model", "E", "B", "lr", "Reached", "Rounds (median)", "Per seed",
          "McMahan T2", "Flower", "Best acc.", "Acc. at R"]
ALIGN = ["left", "left", "right", "right", "right", "right", "right", "right", "right",
         "right", "right", "right"]


def table_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The report's table (header, rows of strings); its legend is ``table_legend()``."""
    def num(v: Any) -> str:
        return "—" if pd.isna(v) else f"{int(v)}"

    def acc(v: Any) -> str:
        return "—" if pd.isna(v) else f"{v:.4f}"

    rows = []
    for r in table.itertuples(index=False):
        median = r.rounds_to_target_median
        rows.append([
            partition_label(r.protocol), r.model.upper(), str(r.local_epochs),
            batch_text(r.batch_size), f"{r.lr:g}", f"{r.n_reached}/{r.n_seeds}",
            f"> {r.rounds}" if pd.isna(median) else f"{median:g}",
            r.rounds_to_target_per_seed, num(r.published_mcmahan), num(r.published_flower),
            acc(r.best_acc_mean), acc(r.acc_at_cap_mean),
        ])
    return list(HEADER), rows


def _sources() -> tuple[str, str]:
    """(the published tables' source, the reference replications' source) of the protocols
    that have target accuracies: the legend explains the columns, which every rounds-to-target
    table has whichever protocols its rows come from."""
    with_targets = [p for p in registry().values() if p.targets]
    tables = dict.fromkeys(row.source for p in with_targets for row in p.docs.rounds_to_target)
    references = dict.fromkeys(p.docs.reference_rounds_source for p in with_targets
                               if p.docs.reference_rounds_source)
    return "; ".join(tables) or "—", "; ".join(references) or "—"


def table_legend(failed: bool = False) -> str:
    """The table's legend; ``failed``: some run failed (its mark is explained)."""
    table_source, reference_source = _sources()
    return (
        "Reached: seeds that reached the target within R rounds. Rounds (median): per seed the "
        "first round r ≥ 1 whose test accuracy (10,000 MNIST test images) is at or above the "
        "target, median over seeds; “> R” when fewer than half of the seeds reach it. Per "
        f"seed: in seed order, “-” not reached, “{DIVERGED_MARK}” diverged"
        + (f", “{FAILED_MARK}” failed (never counted as reached)" if failed else "")
        + ". McMahan T2: "
        f"{table_source}; CNN rows only (the 2NN rows are not transcribed). Flower: first "
        f"round at ≥ 99 % in {reference_source}. Best acc.: per seed the best test accuracy "
        "over the rounds it ran, mean over seeds. Acc. at R: test accuracy at round R, mean "
        "over seeds; “—” when a seed did not run to R (it stopped at the target or diverged)."
    )


def add(doc: Document, report: TargetsReport) -> None:
    runs = report.runs
    stopped = int(runs["stopped_at_target"].notna().sum())
    header, rows = table_rows(report.table)
    # on the page the setup ends on when the table fits there (no page left nearly empty)
    doc.heading(HEADING, keep_with=min(1.5 + 0.2 * len(rows), 8.0))
    doc.paragraph(
        "Rounds to reach the target test accuracy per setting, beside the published values "
        "(lower is better)."
        + (f" {stopped} of {len(runs)} runs stopped at the target; the others ran R "
           "rounds." if stopped else " Every run ran its R rounds."), size=8.5)
    doc.table(columns(header, rows, 7.5, ALIGN, wrap_titles=True), rows, size=7.5)
    failed = bool((runs["status"] == "failed").any())
    doc.paragraph(table_legend(failed), size=7.5, color=MUTED)


SECTION = Section(HEADING, add)

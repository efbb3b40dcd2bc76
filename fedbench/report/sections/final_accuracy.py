"""The "Final accuracy" section: last-10 accuracy vs straggler rate, and the table of final
and last-10 accuracy per cell beside the protocol's published values (with a partitions
axis: a panel and a column for the partition, each cell beside the values published for
its partition only)."""

from __future__ import annotations

import pandas as pd

from fedbench.analysis.summary import LAST_K
from fedbench.protocols.base import PublishedValue
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns, join, pm, rate
from fedbench.report.sections import GridReport, Section

HEADING = "Final accuracy"


def published_value(protocol: str, algorithm: str, mu: float, stragglers: float,
                    partition: str = "") -> PublishedValue | None:
    """The protocol's published test accuracy for a cell (of ``partition``; "" for the
    protocol's own split); None when it publishes none."""
    return figures.published_accuracy(protocol, algorithm, mu, stragglers, partition)


def final_accuracy_rows(summary_df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The final-accuracy table beside the published values (header, rows); for a grid with
    partitions, ``partition_rows``."""
    if figures.has_partitions(summary_df):
        return partition_rows(summary_df)
    many = summary_df["protocol"].nunique() > 1
    rounds = sorted({int(r) for r in summary_df["rounds"]})
    r_text = str(rounds[0]) if len(rounds) == 1 else "R"
    window = min(LAST_K, min(rounds))
    header = ["Stragglers", "Variant", "Seeds ok", f"Final acc. (R={r_text})",
              f"Last-{window} acc.", "Final loss", "Published*"]
    rows = []
    for row in summary_df.itertuples(index=False):
        published = published_value(row.protocol, row.algorithm, row.mu, row.stragglers)
        where = f"{row.protocol}, {rate(row.stragglers)}" if many else rate(row.stragglers)
        rows.append([where, *_numbers(row), published.text() if published else "—"])
    return header, rows


def _numbers(row) -> list[str]:
    """Variant, seeds, final and last-10 accuracy and final loss of a summary row."""
    diverged = row.status in ("diverged", "failed")  # every seed left out
    none = f"all {row.status}"
    return [row.variant, f"{int(row.n_ok)}/{int(row.n_seeds)}",
            none if diverged else pm(row.final_acc_mean, row.final_acc_std),
            none if diverged else pm(row.last10_acc_mean, row.last10_acc_std),
            "—" if diverged else pm(row.final_loss_mean, row.final_loss_std, 2)]


def partition_rows(summary_df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The final-accuracy table of a grid with partitions: a row per cell by protocol and
    partition ("p~Dir(0.5)"); the straggler rate only where the grid has several, and the
    published column only where some cell has a value published for its partition."""
    summary_df = figures.sort_by_partition(summary_df)
    many = summary_df["protocol"].nunique() > 1
    rates = summary_df["stragglers"].nunique() > 1
    rounds = sorted({int(r) for r in summary_df["rounds"]})
    r_text = str(rounds[0]) if len(rounds) == 1 else "R"
    window = min(LAST_K, min(rounds))
    published = [published_value(r.protocol, r.algorithm, r.mu, r.stragglers, str(r.partition))
                 for r in summary_df.itertuples(index=False)]
    any_published = any(v is not None for v in published)
    header = ((["Protocol"] if many else []) + ["Partition"] + (["Stragglers"] if rates else [])
              + ["Variant", "Seeds ok", f"Final acc. (R={r_text})", f"Last-{window} acc.",
                 "Final loss"] + (["Published*"] if any_published else []))
    rows = []
    for row, value in zip(summary_df.itertuples(index=False), published, strict=True):
        rows.append(([row.protocol] if many else [])
                    + [figures.partition_short(str(row.partition))]
                    + ([rate(row.stragglers)] if rates else []) + _numbers(row)
                    + ([value.text() if value else "—"] if any_published else []))
    return header, rows


def published_note(summary_df: pd.DataFrame) -> str:
    """The table's footnote: where the published values come from (the sources of the values
    shown, from the protocols' docs)."""
    shown = [v for row in figures.with_partition(summary_df).itertuples(index=False)
             if (v := published_value(row.protocol, row.algorithm, row.mu, row.stragglers,
                                      str(row.partition)))]
    spread = ("fedbench values are mean ± sample std over the seeds that did not diverge.")
    if not shown:
        if figures.has_partitions(summary_df):
            return (f"No published value for these cells (a value published for the "
                    f"protocol's own split is not one of another partition). {spread}")
        return f"* Published: no published value for these cells. {spread}"
    rounds = join(sorted({v.round for v in shown}))
    notes = "; ".join(dict.fromkeys(v.note for v in shown))
    sources = "; ".join(dict.fromkeys(v.source for v in shown))
    return (f"* Published: test accuracy at round {rounds}, {notes} (no table was "
            f"published); source: {sources}. {spread}")


def add(doc: Document, report: GridReport) -> None:
    summary = report.summary
    doc.new_page()
    doc.heading(HEADING, keep_with=4.0)
    legend_h = figures.legend_height(figures.final_accuracy_legend_labels(summary))
    doc.plot(lambda fig, anchor: figures.draw_final_accuracy(fig, summary, anchor),
             height=min(figures.final_accuracy_height(summary), 9.0) + legend_h,
             legend_h=legend_h)
    header, rows = final_accuracy_rows(summary)
    variant = header.index("Variant")
    align = ["left"] * (variant + 1) + ["right"] * (len(header) - variant - 1)
    # titles and long variant names ("FedAdagrad (server_lr=0.03)") wrap rather than the
    # numbers
    doc.table(columns(header, rows, 8, align, wrap_titles=True, wrap=[variant]), rows, size=8)
    doc.paragraph(published_note(summary), size=8, color=MUTED)


SECTION = Section(HEADING, add)

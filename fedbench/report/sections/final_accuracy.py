"""The "Final accuracy" section: last-10 accuracy vs straggler rate, and the table of final
and last-10 accuracy per cell beside the protocol's published values."""

from __future__ import annotations

import pandas as pd

from fedbench.analysis.summary import LAST_K
from fedbench.protocols import registry
from fedbench.protocols.base import PublishedValue
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns, join, pm, rate
from fedbench.report.sections import GridReport, Section

HEADING = "Final accuracy"


def published_value(protocol: str, algorithm: str, mu: float,
                    stragglers: float) -> PublishedValue | None:
    """The protocol's published test accuracy for a cell; None when it publishes none."""
    found = registry().get(protocol)
    return found.docs.published_value(algorithm, mu, stragglers) if found is not None else None


def final_accuracy_rows(summary_df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The final-accuracy table beside the published values (header, rows)."""
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
        diverged = row.status in ("diverged", "failed")  # every seed left out
        none = f"all {row.status}"
        rows.append([
            where, row.variant, f"{int(row.n_ok)}/{int(row.n_seeds)}",
            none if diverged else pm(row.final_acc_mean, row.final_acc_std),
            none if diverged else pm(row.last10_acc_mean, row.last10_acc_std),
            "—" if diverged else pm(row.final_loss_mean, row.final_loss_std, 2),
            published.text() if published else "—",
        ])
    return header, rows


def published_note(summary_df: pd.DataFrame) -> str:
    """The table's footnote: where the published values come from (the sources of the values
    shown, from the protocols' docs)."""
    shown = [v for row in summary_df.itertuples(index=False)
             if (v := published_value(row.protocol, row.algorithm, row.mu, row.stragglers))]
    spread = ("fedbench values are mean ± sample std over the seeds that did not diverge.")
    if not shown:
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
    legend_h = figures.legend_height(
        figures.legend_labels(summary, figures.published_shown(summary)))
    doc.plot(lambda fig, anchor: figures.draw_final_accuracy(fig, summary, anchor),
             height=3.8 + legend_h, legend_h=legend_h)
    header, rows = final_accuracy_rows(summary)
    align = ["left", "left", "right", "right", "right", "right", "right"]
    # titles and long variant names ("FedAdagrad (server_lr=0.03)") wrap rather than the
    # numbers
    doc.table(columns(header, rows, 8, align, wrap_titles=True, wrap=[1]), rows, size=8)
    doc.paragraph(published_note(summary), size=8, color=MUTED)


SECTION = Section(HEADING, add)

"""The FedProx paper's Figure 1 layout (columns: datasets, rows: straggler rates), training
loss and test accuracy: drawn for the protocols evaluated as the paper does (federated)."""

from __future__ import annotations

from fedbench.algorithms import registry, sort_key
from fedbench.report import figures
from fedbench.report.layout import Document
from fedbench.report.sections import GridReport, Section, federated_protocols

HEADING = "FedProx paper"


def _lines(present: set[str]) -> str:
    """The figure's lines (the algorithms ``present`` in the grid) and what each does with
    stragglers, from the algorithm registry:
    "FedAvg (stragglers dropped), FedProx μ=0 and FedProx μ>0 (partial work kept)"."""
    parts = []
    for algorithm in sorted((a for a in registry().values() if a.name in present),
                            key=lambda a: sort_key(a.name, 0.0)):
        title = algorithm.docs.title
        lines = f"{title} μ=0 and {title} μ>0" if algorithm.uses_mu else title
        kept = "stragglers dropped" if algorithm.drop_stragglers else "partial work kept"
        parts.append(f"{lines} ({kept})")
    return ", ".join(parts)


def add(doc: Document, report: GridReport) -> None:
    federated = federated_protocols(report.summary)
    if not federated:
        return
    rounds = report.rounds[report.rounds["protocol"].isin(federated)]
    for name, (metric, ylabel) in figures.BY_DATASET_FIGURES.items():
        doc.new_page()
        doc.heading(f"{HEADING}: " + ("training loss" if metric == "global_train_loss"
                                      else "test accuracy") + " by dataset", keep_with=5.0)
        doc.paragraph(
            f"As the paper's Figure 1: columns are datasets, rows straggler rates, lines "
            f"{_lines(set(report.summary['algorithm']))}; mean over seeds, ±1 std bands. "
            f"{ylabel.capitalize()} of the global model "
            + ("over every device's training data." if metric == "global_train_loss" else
               "= Σ correct / Σ n over every device's test split.") + f" (figures/{name}.pdf)",
            size=8.5)
        doc.plot(lambda fig, anchor, m=metric, y=ylabel: figures.draw_by_dataset(
            fig, rounds, m, y, anchor))


SECTION = Section(HEADING, add, conditional=True)

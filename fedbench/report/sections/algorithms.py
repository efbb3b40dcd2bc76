"""The "Algorithms" section: which algorithms of the grid drop the stragglers and which keep their
partial work (``Algorithm.drop_stragglers``), the hyperparameters each ran with (μ and its own
``params``, the values of the grid and the defaults of the rest), and the publication each
follows (``docs.source``). Everything here is read from the registry and the summary's cells.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fedbench.algorithms import params_from_text, registry, sort_key
from fedbench.report.layout import MUTED, Column, Document
from fedbench.report.sections import GridReport, Section

HEADING = "Algorithms: which keep stragglers' partial work"
DROPS = "dropped (discarded)"
KEEPS = "partial work kept"


def _values(values: set[float]) -> str:
    return ", ".join(f"{v:g}" for v in sorted(values))


def _symbol(description: str | None) -> str:
    """"η" of a field described as "η, the server learning rate"."""
    head = (description or "").split(",", 1)[0].strip()
    return f" ({head})" if head and len(head) <= 3 else ""


def params_used(algorithm: Any, cells: pd.DataFrame) -> str:
    """The hyperparameters an algorithm's cells ran with: μ (if it has a proximal term), each
    param the grid set with its values, then the defaults of the others."""
    parts = []
    if algorithm.uses_mu:
        parts.append(f"μ = {_values({float(m) for m in cells['mu']})}")
    given = [params_from_text(t) for t in cells["params"]]
    defaults = []
    for name, field in algorithm.hyperparameters.model_fields.items():
        values = {float(p.get(name, field.default)) for p in given}
        if any(name in p for p in given):
            parts.append(f"{name}{_symbol(field.description)} = {_values(values)}")
        else:
            defaults.append(f"{name}{_symbol(field.description)} = {_values(values)}")
    if defaults:
        parts.append("defaults: " + "; ".join(defaults))
    return "; ".join(parts) if parts else "none"


def algorithm_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per registered algorithm of the grid, in legend order."""
    header = ["Algorithm", "Stragglers' updates", "Hyperparameters (values run)", "Source"]
    rows = []
    present = sorted({str(a) for a in summary["algorithm"]}, key=lambda a: sort_key(a, 0.0))
    for name in present:
        algorithm = registry().get(name)
        if algorithm is None:  # no longer registered: its name only
            rows.append([name, "—", "—", "—"])
            continue
        cells = summary[summary["algorithm"] == name]
        rows.append([algorithm.docs.title, DROPS if algorithm.drop_stragglers else KEEPS,
                     params_used(algorithm, cells), algorithm.docs.source])
    return header, rows


def add(doc: Document, report: GridReport) -> None:
    header, rows = algorithm_rows(report.summary)
    dropping = [r[0] for r in rows if r[1] == DROPS]
    keeping = [r[0] for r in rows if r[1] == KEEPS]
    doc.heading(HEADING, keep_with=1.2 + 0.35 * len(rows))
    text = ("A straggler trains fewer local epochs than asked (1 to E−1). An algorithm that drops "
            "stragglers discards their updates, as the FedProx paper's FedAvg does; the others "
            "aggregate the partial work they send, each by its own rule.")
    if dropping and keeping:
        text += (f" In this grid {', '.join(dropping)} drop{'s' * (len(dropping) == 1)} them; "
                 f"{', '.join(keeping)} keep{'s' * (len(keeping) == 1)} their partial work.")
    doc.paragraph(text, size=8.5)
    # the hyperparameters and the source wrap; the name and the straggler rule do not
    widths = (0.13, 0.15, 0.34, 0.38)
    doc.table([Column(t, w) for t, w in zip(header, widths, strict=True)], rows, size=7.5)
    doc.paragraph("Hyperparameters: the values the grid's cells ran with; “defaults” are the "
                  "algorithm's own defaults, which no cell changed. With no stragglers (γ = 0) "
                  "dropping and keeping are the same.", size=8, color=MUTED)


SECTION = Section(HEADING, add)

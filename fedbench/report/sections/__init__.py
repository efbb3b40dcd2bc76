"""The sections of fedbench's reports, one module per section.

A section is a heading (its literal PDF text, which the tests look for) and a function
``add(doc, report)`` that adds the section to a ``fedbench.report.layout.Document``; the
list of sections of each report kind is written once, in ``fedbench.report.build``.

What a section reads is one of two inputs, one per report kind:

- ``GridReport``: what ``fedbench aggregate`` wrote for a grid of cells (the FedProx-style
  report: curves, final accuracy, paired comparison, the FedProx paper's comparison);
- ``TargetsReport``: the runs and table of ``fedbench.analysis.targets`` (rounds to a
  target accuracy per setting, the McMahan et al. report).

Sections compute no number of their own: every number comes from ``fedbench.analysis``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fedbench.config import ExperimentConfig
from fedbench.protocols import registry
from fedbench.report.layout import MUTED, Document


@dataclass(frozen=True)
class GridReport:
    """A grid report's input: rounds.csv, summary.csv and provenance.json of one name."""

    name: str
    rounds: pd.DataFrame
    summary: pd.DataFrame
    prov: dict[str, Any]
    config: ExperimentConfig | None = None
    config_path: str | None = None


@dataclass(frozen=True)
class TargetsReport:
    """A rounds-to-target report's input (``fedbench.analysis.targets``)."""

    name: str
    runs: pd.DataFrame  # one row per run (TargetRuns.runs)
    curves: pd.DataFrame  # accuracy per round (TargetRuns.curves)
    table: pd.DataFrame  # targets.csv
    prov: dict[str, Any]
    config: ExperimentConfig | None = None
    config_path: str | None = None


@dataclass(frozen=True)
class Section:
    """One section of a report kind."""

    # literal PDF text of the section's title, or its start when the title depends on the
    # data ("" for the title block, which has none)
    heading: str
    add: Callable[[Document, Any], None]  # (doc, report) -> None
    # True: drawn only when the report's data call for it (a protocol, a claim)
    conditional: bool = False


def protocol_title(name: str) -> str:
    """A protocol's title from its docs; a protocol no longer registered keeps its name."""
    found = registry().get(name)
    return found.docs.title if found is not None else name


def protocol_with_title(name: str) -> str:
    """"flower-baseline (Flower Baselines, FedProx on MNIST)", for the setup tables."""
    title = protocol_title(name)
    return f"{name} ({title})" if title != name else name


def protocol_descriptions(doc: Document, protocols: list[str]) -> None:
    """One muted line per registered protocol: its data, split and evaluation."""
    for name in protocols:
        found = registry().get(name)
        if found is not None:
            doc.paragraph(f"{name}: {found.docs.description}.", size=8.5, color=MUTED)


def federated_protocols(summary: pd.DataFrame) -> list[str]:
    """The protocols of a summary evaluated as the FedProx paper does (federated), which the
    paper's sections compare with it."""
    return [p for p in sorted(summary["protocol"].unique())
            if p in registry() and registry()[p].evaluation == "federated"]

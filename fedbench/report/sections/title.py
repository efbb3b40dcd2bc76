"""The title block that opens page 1 of a report: what was run, on what, and when."""

from __future__ import annotations

from fedbench.algorithms import get_algorithm, registry, sort_key
from fedbench.report.layout import Document, join
from fedbench.report.sections import GridReport, Section, TargetsReport, protocol_title


def _algorithms(names) -> str:
    """The algorithms' titles, the baseline first: "FedAvg and FedProx"."""
    ordered = sorted({str(n) for n in names}, key=lambda n: sort_key(n, 0.0))
    titles = [get_algorithm(n).docs.title if n in registry() else n for n in ordered]
    return " and ".join([", ".join(titles[:-1]), titles[-1]] if len(titles) > 1 else titles)


def _date(prov: dict) -> str:
    return str(prov.get("created_at", "?"))[:10]


def add_grid(doc: Document, report: GridReport) -> None:
    protocols = sorted(report.summary["protocol"].unique())
    doc.new_page()
    doc.title("fedbench report",
              f"{report.name} — {join([protocol_title(p) for p in protocols])}",
              f"{_algorithms(report.summary['algorithm'])} on MNIST with Flower · aggregated "
              f"{_date(report.prov)}")


def add_targets(doc: Document, report: TargetsReport) -> None:
    doc.new_page()
    doc.title("fedbench report",
              f"{report.name} — {join(report.prov.get('variants', []))}, rounds to target "
              "accuracy",
              f"McMahan et al. 2017 on MNIST with Flower · aggregated {_date(report.prov)}")
    doc.paragraph(
        "The published metric of the FedAvg MNIST baseline: the number of communication "
        "rounds until the global model first reaches the target test accuracy (97 % for the "
        "2NN, 99 % for the CNN), per partition, model, local epochs E and local batch B, "
        "set beside McMahan et al.'s Table 2 and Flower's replication, with the accuracy "
        "per round behind each number.", size=9.5)


GRID = Section("", add_grid)
TARGETS = Section("", add_targets)

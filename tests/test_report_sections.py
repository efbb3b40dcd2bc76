"""The report's sections: the list of each report kind, and the FedProx paper's sections,
drawn for a grid of protocols evaluated as the paper does (federated)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from fedbench.apps.results import ROUND_COLUMNS
from fedbench.cli import main
from fedbench.report.build import GRID_SECTIONS, TARGET_SECTIONS, headings
from tests.conftest import write_run_json

ROUNDS = 12
PROTOCOLS = ("paper", "synthetic-iid")
VARIANTS = (("fedavg", 0.0), ("fedprox", 0.0), ("fedprox", 1.0))


def test_each_report_kind_lists_its_sections() -> None:
    assert headings(GRID_SECTIONS) == ["Provenance", "Setup",
                                       "Algorithms: which keep stragglers' partial work",
                                       "Results", "Final accuracy", "Paired comparison",
                                       "Known differences"]
    assert [s.heading for s in GRID_SECTIONS if s.conditional] == [
        "Heterogeneity", "sweep", "Objective inconsistency", *["FedProx paper"] * 2]
    assert headings(TARGET_SECTIONS) == ["Provenance", "Setup", "Rounds to target accuracy",
                                         "Accuracy per round", "Known differences"]


def write_run(root: Path, protocol: str, algorithm: str, mu: float, stragglers: float,
              seed: int) -> Path:
    """A federated run: FedAvg loses accuracy to stragglers, FedProx does not."""
    plateau = 0.85 - (0.25 * stragglers if algorithm == "fedavg" else 0.0) + 0.013 * seed
    lines = [",".join(ROUND_COLUMNS)]
    for rnd in range(ROUNDS + 1):
        acc = 0.1 + (plateau + 0.01 * mu - 0.1) * (1 - 0.6 ** rnd) + 0.003 * ((7 * rnd) % 3)
        loss = 2.3 * (1 - acc) + 0.2
        lines.append(f"{rnd},{loss!r},{acc!r},10,{int(10 * stragglers)},0,0,500,0.4,"
                     f"{0.9 * loss!r},0.05")
    run_dir = root / protocol / f"{algorithm}-mu{mu}-sf{stragglers}" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "fed", "protocol": protocol, "algorithm": algorithm, "mu": mu,
              "stragglers": stragglers, "seed": seed,
              "federation": {"num_clients": 1000, "clients_per_round": 10, "rounds": ROUNDS},
              "training": {"model": "logreg", "local_epochs": 20, "batch_size": 10, "lr": 0.03,
                           "weight_decay": 0.0}}
    write_run_json(run_dir, config, status="ok", config_digest=f"{protocol}{algorithm}{mu}",
                   final={"round": ROUNDS})
    return run_dir


@pytest.fixture(scope="module")
def federated(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("federated")
    runs = [write_run(root / "results", p, a, m, sf, seed) for p in PROTOCOLS
            for a, m in VARIANTS for sf in (0.0, 0.9) for seed in (0, 1)]
    reports = root / "reports"
    assert main(["aggregate", "--name", "fed", "--out-dir", str(reports), *map(str, runs)]) == 0
    config = root / "fed.yaml"
    config.write_text("name: fed\n")
    assert main(["report", "--name", "fed", "--config", str(config), "--reports-dir",
                 str(reports)]) == 0
    text = "\n".join(p.extract_text() for p in PdfReader(reports / "report.pdf").pages)
    return {"reports": reports, "text": " ".join(text.split()),
            "summary": pd.read_csv(reports / "summary.csv")}


def test_paper_sections_are_drawn_for_federated_protocols(federated) -> None:
    text = federated["text"]
    for heading in ("FedProx paper: training loss by dataset",
                    "FedProx paper: test accuracy by dataset",
                    "FedProx paper: final accuracy and the published claim"):
        assert heading in text, heading
    assert ("lines FedAvg (stragglers dropped), FedProx μ=0 and FedProx μ>0 (partial work "
            "kept)") in text
    assert "Δ (μ>0 − FedAvg)" in text
    figures = federated["reports"] / "figures"
    for name in ("training_loss", "test_accuracy_by_dataset"):
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"


def test_the_published_claim_stands_beside_fedbench_s_mean_difference(federated) -> None:
    summary = federated["summary"]
    at90 = summary[(summary["algorithm"] == "fedprox") & (summary["mu"] > 0)
                   & (summary["stragglers"] == 0.9)]
    mean = float(at90["paired_diff_last10_mean"].mean())  # over paper and synthetic-iid
    text = federated["text"]
    assert "+0.22 (+22 %)" in text
    assert f"fedbench (average Δ at 90% over paper, synthetic-iid) {mean:+.3f} ({mean:+.1%})" \
        in text
    assert "Source: Li et al., Federated Optimization in Heterogeneous Networks" in text


def test_a_grid_without_published_values_says_so(federated) -> None:
    text = federated["text"]
    assert "FedAvg and FedProx on MNIST with Flower" in text
    assert "* Published: no published value for these cells." in text
    assert "FedProx_mnist.png" not in text  # the Flower figure is not these protocols' source


def test_the_report_says_which_algorithms_keep_stragglers_partial_work(federated) -> None:
    text = federated["text"]
    assert "Algorithms: which keep stragglers' partial work" in text
    assert "In this grid FedAvg drops them; FedProx keeps their partial work." in text
    assert "FedAvg dropped (discarded) none McMahan et al." in text
    assert "FedProx partial work kept μ = 0, 1 Li et al." in text

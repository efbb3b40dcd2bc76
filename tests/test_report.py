"""Report spec: figures and a PDF with every section, built from synthetic runs.

The grid mirrors the published one (FedAvg, FedProx μ=0, FedProx μ=2 at 0, 50
and 90 % stragglers) with two seeds, 12 rounds, one diverged FedAvg seed and
one extra cell whose seeds all diverged, so the report is exercised on the
awkward cases as well. It is built once per module to keep the suite fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from fedbench.analysis.summary import aggregate
from fedbench.apps.results import ROUND_COLUMNS
from fedbench.cli import main
from fedbench.config import validate_experiment
from fedbench.protocols import get_protocol
from fedbench.report.build import GRID_SECTIONS, headings
from fedbench.report.sections.setup import config_notes
from tests.conftest import write_run_json

SECTIONS = headings(GRID_SECTIONS)

ROUNDS = 12
VARIANTS = [("fedavg", 0.0), ("fedprox", 0.0), ("fedprox", 2.0)]
STRAGGLERS = [0.0, 0.5, 0.9]
SEEDS = [0, 1]


def write_run(root: Path, algorithm: str, mu: float, stragglers: float, seed: int,
              diverged: bool = False) -> Path:
    """A plausible learning curve: accuracy rises to a plateau that stragglers lower for FedAvg."""
    plateau = 0.85 - (0.25 * stragglers if algorithm == "fedavg" else 0.0) + 0.01 * seed + 0.01 * mu
    last = 4 if diverged else ROUNDS
    lines = [",".join(ROUND_COLUMNS)]
    for rnd in range(last + 1):
        acc = 0.1 + (plateau - 0.1) * (1 - 0.6 ** rnd)
        loss = "inf" if diverged and rnd == last else repr(2.3 * (1 - acc) + 0.2)
        train = "nan" if rnd == 0 else "0.4"
        lines.append(f"{rnd},{loss},{acc!r},{0 if rnd == 0 else 10},{int(10 * stragglers)},0,0,"
                     f"500,{train},nan,0.05")
    run_dir = root / f"{algorithm}-mu{mu}-sf{stragglers}" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "syn", "protocol": "flower-baseline", "algorithm": algorithm, "mu": mu,
              "stragglers": stragglers, "seed": seed,
              "federation": {"num_clients": 1000, "clients_per_round": 10, "rounds": ROUNDS},
              "training": {"model": "logreg", "local_epochs": 10, "batch_size": 10, "lr": 0.03,
                           "weight_decay": 0.001},
              "runtime": {"backend": "inprocess", "device": "cpu", "threads": 1},
              "data": {"root": "resources", "mnist_dir": None}}
    write_run_json(run_dir, config, status="diverged" if diverged else "ok",
                   diverged_round=last if diverged else None,
                   config_digest=f"{algorithm[:4]}{mu:g}{stragglers:g}{seed}",
                   final={"round": last, "test_accuracy": acc, "test_loss": float(loss)},
                   wall_seconds=61.0, git_commit="abc123def")
    return run_dir


def experiment_yaml(path: Path) -> Path:
    config = {"name": "syn", "federation": {"rounds": ROUNDS},
              "grid": {"variants": [{"algorithm": a, "mu": m} for a, m in VARIANTS],
                       "stragglers": STRAGGLERS, "seeds": SEEDS}}
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """Aggregate the synthetic grid and build the full report through the CLI, once."""
    root = tmp_path_factory.mktemp("report")
    runs = [write_run(root / "results", a, m, sf, seed, diverged=(a == "fedavg" and sf == 0.9
                                                                 and seed == 1))
            for a, m in VARIANTS for sf in STRAGGLERS for seed in SEEDS]
    runs += [write_run(root / "results", "fedprox", 1.0, 0.9, seed, diverged=True)
             for seed in SEEDS]
    reports = root / "reports" / "syn"
    assert main(["aggregate", "--name", "syn", "--out-dir", str(reports),
                 *map(str, runs)]) == 0
    config = experiment_yaml(root / "syn.yaml")
    assert main(["report", "--name", "syn", "--config", str(config),
                 "--reports-dir", str(reports)]) == 0
    reader = PdfReader(reports / "report.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    return {"reports": reports, "text": text, "pages": len(reader.pages)}


@pytest.mark.parametrize("section", SECTIONS)
def test_report_has_every_section(built, section):
    assert (built["reports"] / "report.pdf").stat().st_size > 0
    assert section in built["text"]


def test_report_shows_provenance_setup_and_published_values(built):
    text = built["text"]
    for fact in ("0.1.0", "1.42.0", "2.14.1", "abc123def", "20 (3 diverged)",
                 "20 min 20 s", "≈0.86", "≈0.60–0.65", "all diverged", "FedProx μ=2"):
        assert fact in text, fact
    assert "Flower's reported test loss" in text


def test_figures_exist_as_png_and_pdf(built):
    figures = built["reports"] / "figures"
    for name in ("curves", "final_accuracy"):
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(figures.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_figures_only_writes_no_pdf(tmp_path):
    reports = tmp_path / "reports"
    aggregate([write_run(tmp_path / "runs", "fedprox", 2.0, 0.5, 0)], reports, name="one")
    config = experiment_yaml(tmp_path / "one.yaml")
    assert main(["report", "--name", "one", "--config", str(config), "--reports-dir",
                 str(reports), "--figures-only"]) == 0
    assert sorted(p.name for p in (reports / "figures").iterdir()) == [
        "curves.pdf", "curves.png", "final_accuracy.pdf", "final_accuracy.png"]
    assert not (reports / "report.pdf").exists()


def test_report_without_aggregate_output_is_a_usage_error(tmp_path, capsys):
    config = experiment_yaml(tmp_path / "c.yaml")
    assert main(["report", "--name", "x", "--config", str(config), "--reports-dir",
                 str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "rounds.csv: file not found" in err and "fedbench aggregate" in err


def test_published_values_are_marked_approximate():
    docs = get_protocol("flower-baseline").docs
    value = docs.published_value("fedprox", 2.0, 0.9)
    assert value is not None and value.text() == "≈0.86" and "read off a figure" in value.note
    assert "FedProx_mnist.png" in value.source
    assert docs.published_value("fedavg", 0.0, 0.5) is None  # none published


def test_config_notes_name_missing_grid_runs():
    config = validate_experiment({"grid": {"variants": [{"algorithm": "fedavg"}],
                                           "stragglers": [0.0], "seeds": [0, 1]}})
    prov = {"setup": {"rounds": [100]},
            "runs": [{"variant": "FedAvg", "stragglers": 0.0, "seed": 0}]}
    notes = config_notes(prov, config)
    assert notes == ["1 of the config's 2 grid runs are missing from this report: "
                     "FedAvg, 0%, seed 1."]

"""``federation.stop_at_target``: a run ends at the first round that reaches its target.

McMahan et al.'s metric is the number of rounds to reach a target accuracy; the rounds
after it are most of a grid's cost. A run that stops early must be the exact prefix of
the run that does not, and say where it stopped.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

from fedbench.cli import main
from fedbench.config import RunConfig, load_experiment, validate_experiment
from fedbench.errors import ConfigError
from fedbench.protocols import get_protocol
from tests.conftest import REPO, tiny_experiment
from tests.test_workflow import snakemake

TWO_NN = {"model": "2nn", "local_epochs": 1, "batch_size": 10, "lr": 0.1, "weight_decay": 0.0}


def _experiment(mnist_root: Path, stop: bool, rounds: int) -> dict:
    cfg = tiny_experiment(mnist_root, protocol="mcmahan-iid",
                          federation={"num_clients": 100, "clients_per_round": 10,
                                      "rounds": rounds, "stop_at_target": stop},
                          training=TWO_NN)
    cfg["grid"] = {"settings": [{k: v for k, v in TWO_NN.items() if k != "weight_decay"}],
                   "variants": [{"algorithm": "fedavg"}], "stragglers": [0.0], "seeds": [0]}
    return cfg


def _run(tmp_path: Path, cfg: dict, name: str) -> tuple[list[dict], dict]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / name
    assert main(["run", "--config", str(path), "--out", str(out), "--quiet"]) == 0
    with (out / "rounds.csv").open() as f:
        rows = list(csv.DictReader(f))
    return rows, json.loads((out / "run.json").read_text())


def _numbers(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_a_run_ends_at_the_first_round_at_or_above_the_target_as_a_prefix_of_the_full_run(
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 2NN reaches 90 % in a few rounds: stand in for the published 97 % to keep this short
    monkeypatch.setitem(get_protocol("mcmahan-iid").targets, "2nn", 0.90)
    full, full_run = _run(tmp_path, _experiment(mnist_root, stop=False, rounds=6), "full")
    accuracy = [float(r["test_accuracy"]) for r in full]
    first = next(r for r, acc in enumerate(accuracy) if r >= 1 and acc >= 0.90)
    assert first < 6, accuracy  # the check below needs rounds after the target

    stopped, stopped_run = _run(tmp_path, _experiment(mnist_root, stop=True, rounds=6), "stop")

    assert len(stopped) == first + 1  # rounds 0..first
    assert _numbers(stopped) == _numbers(full[: first + 1])
    assert stopped_run["stopped_at_target"] == first
    assert stopped_run["status"] == "ok" and stopped_run["final"]["round"] == first
    assert full_run["stopped_at_target"] is None
    assert not (tmp_path / "stop" / "checkpoint.npz").exists()


def test_stop_at_target_needs_a_model_with_a_published_target() -> None:
    message = ("federation.stop_at_target=true with training.model='logreg': protocol "
               "mcmahan-iid has no published target accuracy for it; allowed models: "
               "2nn (97%), cnn (99%)")
    with pytest.raises(ValueError, match=re.escape(message)):
        RunConfig.model_validate(
            {"protocol": "mcmahan-iid", "federation": {"stop_at_target": True},
             "training": {"model": "logreg"}})


def test_stop_at_target_in_a_grid_checks_every_setting(mnist_root: Path) -> None:
    cfg = _experiment(mnist_root, stop=True, rounds=5)
    cfg["grid"]["settings"].append({"model": "logreg", "local_epochs": 1})
    with pytest.raises(ConfigError, match="logreg"):
        validate_experiment(cfg)


def test_a_workflow_grid_that_stops_at_target_needs_a_settings_axis(
    mnist_root: Path, tmp_path: Path
) -> None:
    """Its runs are reported as rounds to target; averaging their last rounds would mislead.
    (Without the axis a single `fedbench run` may still stop at its target.)"""
    cfg = _experiment(mnist_root, stop=True, rounds=5)
    validate_experiment(cfg).check_workflow()  # with the axis: fine
    del cfg["grid"]["settings"]
    experiment = validate_experiment(cfg)  # the cells themselves are valid
    with pytest.raises(ConfigError, match=r"needs a grid\.settings axis"):
        experiment.check_workflow()
    path = tmp_path / "no-axis.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "--configfile", str(path), "--dry-run")
    assert proc.returncode == 2
    assert "needs a grid.settings axis" in proc.stderr and "Traceback" not in proc.stderr


def test_the_option_left_unset_keeps_the_digests_of_existing_results() -> None:
    # the committed default-grid results were made before the option existed
    provenance = json.loads((REPO / "reports/fedprox-mnist/provenance.json").read_text())
    experiment = load_experiment(REPO / "configs/default.yaml")
    grid = experiment.grid
    digests = {
        experiment.cell(v.algorithm, v.mu, s, seed).digest()
        for v in grid.variants for s in grid.stragglers for seed in grid.seeds
    }
    assert digests == set(provenance["config_digests"])
    stopping = experiment.cell("fedavg", 0.0, 0.0, 0).model_copy(
        update={"federation": experiment.federation.model_copy(update={"stop_at_target": True})})
    assert stopping.digest() not in digests

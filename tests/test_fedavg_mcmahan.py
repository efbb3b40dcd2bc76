"""The FedAvg MNIST baseline (McMahan et al. 2017): partitions, full-batch training,
rounds to target, the configs, and a short 2NN run."""

from __future__ import annotations

import csv
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from fedbench.config import ConfigError, Setting, TrainingConfig, load_experiment
from fedbench.protocols import get_protocol
from fedbench.published import MCMAHAN_TABLE2, published_rounds
from fedbench.targets import median_rounds, rounds_to_target, targets_table
from tests.conftest import REPO, tiny_experiment


@pytest.fixture(scope="module")
def labels(mnist_root: Path) -> np.ndarray:
    from fedbench.dataset import read_mnist

    return read_mnist(mnist_root)[1]


def test_iid_gives_100_clients_600_distinct_samples_each(labels) -> None:
    parts = get_protocol("mcmahan-iid").split(labels, 100, 0)
    assert len(parts) == 100 and all(len(p) == 600 for p in parts)
    flat = np.concatenate(parts)
    assert len(np.unique(flat)) == 60_000


def test_non_iid_gives_each_client_exactly_two_label_sorted_shards(labels) -> None:
    parts = get_protocol("mcmahan-noniid").split(labels, 100, 0)
    order = np.argsort(labels, kind="stable")
    shard_of = np.empty(60_000, np.int64)
    shard_of[order] = np.arange(60_000) // 300  # position in the label-sorted order -> shard
    seen = []
    for p in parts:
        shards, counts = np.unique(shard_of[p], return_counts=True)
        assert len(shards) == 2 and list(counts) == [300, 300]
        assert len(np.unique(labels[p])) <= 4  # a shard spans at most two labels
        seen.extend(shards)
    assert sorted(seen) == list(range(200))


def test_rounds_to_target_is_the_first_round_at_or_above_it() -> None:
    rounds = [0, 1, 2, 3, 4, 5]
    acc = [0.995, 0.5, 0.9, 0.99, 0.98, 0.995]
    assert rounds_to_target(rounds, acc, 0.99) == 3  # at counts; round 0 (initial) never does
    assert rounds_to_target(rounds, acc, 0.999) is None
    assert rounds_to_target(list(reversed(rounds)), list(reversed(acc)), 0.9) == 2
    assert median_rounds([3, 5, None]) == 5
    assert median_rounds([3, None, None]) is None
    assert median_rounds([4, 6]) == 5


def test_targets_table_sets_runs_beside_table_2() -> None:
    import pandas as pd

    runs = pd.DataFrame([
        {"protocol": "mcmahan-noniid", "model": "cnn", "local_epochs": 5, "batch_size": None,
         "lr": 0.1, "seed": s, "status": "ok", "rounds": 1000, "target": 0.99,
         "rounds_to_target": r, "final_acc": 0.99} for s, r in ((0, 900), (1, None), (2, 950))
    ])
    table = targets_table(runs)
    row = table.iloc[0]
    assert row["batch_size"] == "∞" and row["n_reached"] == 2 and row["n_seeds"] == 3
    assert row["rounds_to_target_median"] == 950
    assert row["rounds_to_target_per_seed"] == "900 - 950"
    assert row["published_mcmahan"] == 1000 and row["published_flower"] == 989
    assert published_rounds("cnn", "mcmahan-iid", 1, 10) == 34
    assert len(MCMAHAN_TABLE2) == 12


def test_full_batch_is_none_and_written_full() -> None:
    assert TrainingConfig(batch_size="full").batch_size is None
    assert TrainingConfig(batch_size=None).batch_size is None
    with pytest.raises(ValueError):
        TrainingConfig(batch_size=0)


def test_mcmahan_config_validates_and_expands_to_108_cells() -> None:
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    for name in ("fedavg-mcmahan.yaml", "fedavg-mcmahan-reduced.yaml"):
        jsonschema.validate(yaml.safe_load((REPO / "configs" / name).read_text()), schema)
    experiment = load_experiment(REPO / "configs" / "fedavg-mcmahan.yaml")
    settings = experiment.settings()
    assert len(settings) == 18 and len(experiment.protocols()) == 2
    assert settings["cnn-E5-Binf-lr0.1"].batch_size is None
    cell = experiment.cell("fedavg", 0.0, 0.0, 1, protocol="mcmahan-noniid",
                           setting="2nn-E20-B50-lr0.1")
    assert (cell.training.model, cell.training.local_epochs, cell.training.batch_size) == (
        "2nn", 20, 50)
    with pytest.raises(ConfigError, match="setting"):
        experiment.setting("cnn-E2-B10-lr0.1")
    # the workflow's run_config.yaml has no grid: a label names its setting by itself
    for label, training in settings.items():
        assert Setting.from_label(label).apply(experiment.training) == training


def _run(tmp_path: Path, mnist_root: Path, name: str, training: dict, rounds: int) -> list[dict]:
    from fedbench.cli import main

    cfg = tiny_experiment(mnist_root, protocol="mcmahan-iid",
                          federation={"num_clients": 100, "clients_per_round": 10,
                                      "rounds": rounds},
                          training={"weight_decay": 0.0, **training})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    out = tmp_path / name
    assert main(["run", "--config", str(path), "--out", str(out), "--quiet",
                 "--algorithm", "fedavg", "--stragglers", "0"]) == 0
    with (out / "rounds.csv").open() as f:
        return list(csv.DictReader(f))


def test_short_2nn_iid_run_reaches_90_percent(tmp_path: Path, mnist_root: Path) -> None:
    rows = _run(tmp_path, mnist_root, "2nn",
                {"model": "2nn", "local_epochs": 1, "batch_size": 10, "lr": 0.1}, rounds=3)
    acc = [float(r["test_accuracy"]) for r in rows]
    assert all(int(r["examples"]) == 6000 for r in rows[1:])  # 10 clients x 600 samples
    assert rounds_to_target(list(range(len(acc))), acc, 0.90) is not None, acc


def test_full_batch_run_takes_one_step_per_epoch(tmp_path: Path, mnist_root: Path) -> None:
    rows = _run(tmp_path, mnist_root, "full",
                {"model": "2nn", "local_epochs": 2, "batch_size": "full", "lr": 0.2}, rounds=1)
    assert float(rows[1]["test_accuracy"]) > float(rows[0]["test_accuracy"])


def test_workflow_plans_the_mcmahan_grid_and_its_rounds_to_target(tmp_path: Path) -> None:
    from tests.test_workflow import job_counts, output_of, snakemake

    proc = snakemake(tmp_path, "--configfile", str(REPO / "configs" / "fedavg-mcmahan.yaml"),
                     "--dry-run", "--printshellcmds")
    assert proc.returncode == 0, output_of(proc)
    counts = job_counts(proc)
    assert counts["simulate"] == 2 * 18 * 3 and counts["targets"] == 1
    assert "report" not in counts and "aggregate" not in counts
    text = output_of(proc)
    assert "--protocol mcmahan-noniid --setting cnn-E5-Binf-lr0.1 " in text

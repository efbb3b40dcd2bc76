"""The FedAvg MNIST baseline (McMahan et al. 2017): partitions, full-batch training,
rounds to target, the configs, and a short 2NN run."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from fedbench.analysis.targets import (
    load_target_runs,
    median_rounds,
    rounds_to_target,
    targets_table,
)
from fedbench.apps.results import ROUND_COLUMNS
from fedbench.config import (
    FULL_BATCH,
    Setting,
    TrainingConfig,
    load_experiment,
    workflow_schema,
)
from fedbench.errors import ConfigError, UsageError
from fedbench.protocols import get_protocol
from fedbench.protocols.base import published_rounds
from fedbench.report.build import TARGET_SECTIONS, headings
from fedbench.report.figures import draw_target_curves
from tests.conftest import REPO, tiny_experiment, write_run_json

SECTIONS = headings(TARGET_SECTIONS)


@pytest.fixture(scope="module")
def labels(mnist_root: Path) -> np.ndarray:
    from fedbench.data.mnist import read_mnist

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
        {"protocol": "mcmahan-noniid", "model": "cnn", "local_epochs": 5, "batch_size": 0,
         "lr": 0.1, "seed": s, "status": "ok", "rounds": 1000, "target": 0.99,
         "rounds_to_target": r, "stopped_at_target": r, "best_acc": 0.99 if r else 0.985,
         "acc_at_cap": math.nan if r else 0.985}
        for s, r in ((0, 900), (1, None), (2, 950))
    ])
    table = targets_table(runs)
    row = table.iloc[0]
    assert row["batch_size"] == 0 and row["n_reached"] == 2 and row["n_seeds"] == 3  # B = ∞
    assert row["n_stopped"] == 2 and row["n_diverged"] == 0 and row["rounds"] == 1000
    assert row["rounds_to_target_median"] == 950
    assert row["rounds_to_target_per_seed"] == "900 - 950"
    # accuracy at R only where every seed ran R rounds; best accuracy over the rounds run
    assert math.isnan(row["acc_at_cap_mean"])
    assert row["best_acc_mean"] == pytest.approx((0.99 + 0.985 + 0.99) / 3)
    assert row["published_mcmahan"] == 1000 and row["published_flower"] == 989
    iid, noniid = get_protocol("mcmahan-iid").docs, get_protocol("mcmahan-noniid").docs
    assert published_rounds(iid.rounds_to_target, "cnn", 1, 10) == 34
    assert len(iid.rounds_to_target) + len(noniid.rounds_to_target) == 12


def test_full_batch_is_one_value_however_it_is_written() -> None:
    """B = ∞ is batch_size 0 (FULL_BATCH) in every model, whatever a config file writes."""
    for spelling in ("full", "inf", "∞", None, 0):
        assert TrainingConfig(batch_size=spelling).batch_size == FULL_BATCH == 0
    assert Setting(batch_size="full").batch_size == FULL_BATCH
    assert Setting().batch_size is None  # unset: the config's training value
    assert Setting.from_label("2nn-E1-Binf-lr0.2").batch_size == FULL_BATCH
    assert Setting(model="2nn", batch_size=0).label(TrainingConfig()).startswith("2nn-E10-Binf-")
    with pytest.raises(ValueError):
        TrainingConfig(batch_size=-1)
    with pytest.raises(ValueError):
        TrainingConfig(batch_size="half")


def test_mcmahan_config_validates_and_expands_to_108_cells() -> None:
    schema = workflow_schema(
        yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text()))
    for name in ("fedavg-mcmahan.yaml", "fedavg-mcmahan-reduced.yaml"):
        jsonschema.validate(yaml.safe_load((REPO / "configs" / name).read_text()), schema)
    experiment = load_experiment(REPO / "configs" / "fedavg-mcmahan.yaml")
    settings = experiment.settings()
    assert len(settings) == 18 and len(experiment.protocols()) == 2
    assert settings["cnn-E5-Binf-lr0.1"].batch_size == FULL_BATCH
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


# --------------------------------------------------------------------------- the report


def write_mcmahan_run(root: Path, protocol: str, model: str, epochs: int, batch: int | None,
                      lr: float, seed: int, accuracy: list[float], cap: int,
                      stopped: int | None = None, stop_at_target: bool = True) -> Path:
    """A fake run directory as `fedbench run` writes it: rounds 0..len(accuracy)-1; a run that
    stopped at the target has rows up to that round only and says so in run.json."""
    run_dir = (root / protocol / f"{model}-E{epochs}-B{batch or 'inf'}-lr{lr!r}"
               / "fedavg-mu0.0-sf0.0" / f"seed{seed}")
    run_dir.mkdir(parents=True)
    lines = [",".join(ROUND_COLUMNS)]
    for rnd, acc in enumerate(accuracy):
        lines.append(f"{rnd},{2.3 * (1 - acc)!r},{acc!r},{0 if rnd == 0 else 10},0,0,0,"
                     f"{0 if rnd == 0 else 6000},{'nan' if rnd == 0 else '0.3'},nan,1.5")
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "mc", "protocol": protocol, "algorithm": "fedavg", "mu": 0.0,
              "stragglers": 0.0, "seed": seed,
              "federation": {"num_clients": 100, "clients_per_round": 10, "rounds": cap,
                             "stop_at_target": stop_at_target},
              "training": {"model": model, "local_epochs": epochs, "batch_size": batch,
                           "lr": lr, "weight_decay": 0.0},
              "runtime": {"backend": "inprocess", "device": "cpu", "threads": 1},
              "data": {"root": "resources", "mnist_dir": None}}
    write_run_json(run_dir, config, status="ok", diverged_round=None, stopped_at_target=stopped,
                   config_digest=f"{protocol}{model}{epochs}{batch}{seed}",
                   final={"round": len(accuracy) - 1, "test_accuracy": accuracy[-1]})
    return run_dir


def _rising(rounds: int, reach: int | None, target: float) -> list[float]:
    """Accuracy per round 0..rounds: below ``target`` until round ``reach``, at it there."""
    acc = [0.1] + [target - 0.05 * 0.8 ** r for r in range(1, rounds + 1)]
    if reach is not None:
        acc[reach] = target + 0.001
    return acc


CAP = 40
# IID CNN E=5 B=10 (Table 2: 20 rounds), three seeds that stop at the target at 18, 22, 25;
# non-IID CNN E=1 B=10 (Table 2: 350, Flower: 123), two seeds that run the cap without reaching
# it; IID 2NN E=1 B=10, one seed stopping at 12 and one older run (no stopped_at_target key)
STOPS = {0: 18, 1: 22, 2: 25}


@pytest.fixture(scope="module")
def targets_report(tmp_path_factory) -> dict:
    from pypdf import PdfReader

    from fedbench.cli import main

    root = tmp_path_factory.mktemp("targets")
    runs = [write_mcmahan_run(root / "results", "mcmahan-iid", "cnn", 5, 10, 0.1, seed,
                              _rising(r, r, 0.99), CAP, stopped=r)
            for seed, r in STOPS.items()]
    runs += [write_mcmahan_run(root / "results", "mcmahan-noniid", "cnn", 1, 10, 0.1, seed,
                               _rising(CAP, None, 0.99), CAP) for seed in (0, 1)]
    runs.append(write_mcmahan_run(root / "results", "mcmahan-iid", "2nn", 1, 10, 0.1, 0,
                                  _rising(12, 12, 0.97), CAP, stopped=12))
    old = write_mcmahan_run(root / "results", "mcmahan-iid", "2nn", 1, 10, 0.1, 1,
                            _rising(CAP, 30, 0.97), CAP, stop_at_target=False)
    payload = json.loads((old / "run.json").read_text())
    del payload["stopped_at_target"], payload["config"]["federation"]["stop_at_target"]
    (old / "run.json").write_text(json.dumps(payload))
    runs.append(old)
    out = root / "reports" / "mc"
    assert main(["targets", "--name", "mc", "--out-dir", str(out), *map(str, runs)]) == 0
    reader = PdfReader(out / "report.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    with (out / "targets_summary.csv").open() as f:
        table = {(r["protocol"], r["model"]): r for r in csv.DictReader(f)}
    seeds: dict[tuple[str, str], list[dict]] = {}
    with (out / "targets.csv").open() as f:  # one row per seed
        for r in csv.DictReader(f):
            seeds.setdefault((r["protocol"], r["model"]), []).append(r)
    return {"out": out, "text": text, "table": table, "seeds": seeds, "runs": runs}


@pytest.mark.parametrize("section", SECTIONS)
def test_targets_report_has_every_section(targets_report, section) -> None:
    assert section in targets_report["text"]


def test_targets_report_sets_rounds_beside_table_2(targets_report) -> None:
    text = targets_report["text"]
    lines = text.splitlines()
    # IID CNN E=5 B=10: median 22 of 18 22 25, beside Table 2's 20 (no Flower value for IID)
    iid = [line for line in lines if line.startswith("IID CNN 5 10 0.1")]
    assert iid and re.search(r"3/3 22 18 22 25 20 — ", iid[0]), iid
    noniid = [line for line in lines if line.startswith("non-IID CNN 1 10 0.1")]
    assert noniid and re.search(r"0/2 > 40 - - 350 123 ", noniid[0]), noniid
    flat = " ".join(text.split())  # a table cell may wrap over lines
    for fact in ("McMahan T2", "AISTATS 2017, Table 2", "feedc0ffee", "1.42.0",
                 "stop at target", "4 of 7 runs stopped there", "Known differences",
                 "tuned the learning rate per setting", "Stopped at the target"):
        assert fact in flat, fact
    assert "Acc. at R" in text and "Best acc." in text


def test_run_stopped_at_the_target_counts_as_reached_at_its_last_round(targets_report) -> None:
    table = targets_report["table"]
    seeds = targets_report["seeds"]
    cnn = table[("mcmahan-iid", "cnn")]
    assert cnn["rounds"] == str(CAP)  # the cap, not the rounds the runs ran
    assert "rounds_to_target_per_seed" not in cnn  # one row per seed in targets.csv instead
    assert [(r["seed"], r["rounds_to_target"], r["reached"], r["stopped"])
            for r in seeds[("mcmahan-iid", "cnn")]] == [
        (str(s), str(r), "True", "True") for s, r in sorted(STOPS.items())]
    assert (cnn["n_reached"], cnn["n_stopped"], cnn["rounds_to_target_median"]) == (
        "3", "3", "22.0")
    assert cnn["acc_at_cap_mean"] == ""  # no seed ran to round R
    assert float(cnn["best_acc_mean"]) == pytest.approx(0.991)
    two = table[("mcmahan-iid", "2nn")]  # one stopped run, one older run without the key
    assert [(r["rounds_to_target"], r["stopped"]) for r in seeds[("mcmahan-iid", "2nn")]] == [
        ("12", "True"), ("30", "False")]
    assert two["n_stopped"] == "1"
    noniid = table[("mcmahan-noniid", "cnn")]
    assert noniid["n_reached"] == "0" and float(noniid["acc_at_cap_mean"]) > 0.9
    assert [(r["reached"], r["rounds_to_target"]) for r in seeds[("mcmahan-noniid", "cnn")]] == [
        ("False", ""), ("False", "")]
    assert (targets_report["out"] / "provenance.json").is_file()
    assert not (targets_report["out"] / "targets.pdf").exists()


def test_stopped_run_must_end_where_it_says(tmp_path: Path) -> None:
    run = write_mcmahan_run(tmp_path, "mcmahan-iid", "cnn", 5, 10, 0.1, 0,
                            _rising(20, 15, 0.99), CAP, stopped=15)  # rows up to 20, not 15
    with pytest.raises(UsageError, match="stopped at the target at round 15"):
        load_target_runs([run])


def test_mean_curve_ends_where_the_first_seed_stopped(targets_report) -> None:
    from matplotlib.figure import Figure

    runs_df, curves = load_target_runs(targets_report["runs"])
    fig = Figure()
    draw_target_curves(fig, curves, runs_df)
    lines = {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}
    mean = lines["E=5 B=10 lr=0.1"]
    assert max(mean.get_xdata()) == min(STOPS.values())  # no tail of the seeds left
    seeds = [line for ax in fig.axes for line in ax.get_lines()
             if line.get_label().startswith("_") and len(line.get_xdata()) > 1]
    assert max(max(line.get_xdata()) for line in seeds) == CAP  # the 2NN run that ran on


def test_workflow_plans_the_reduced_grid_and_its_report(tmp_path: Path) -> None:
    from tests.test_workflow import job_counts, output_of, snakemake

    config = REPO / "configs" / "fedavg-mcmahan-reduced.yaml"
    proc = snakemake(tmp_path, "--configfile", str(config), "--dry-run")
    assert proc.returncode == 0, output_of(proc)
    counts = job_counts(proc)
    experiment = load_experiment(config)
    cells = len(experiment.settings()) * len(experiment.protocols()) * len(experiment.grid.seeds)
    assert cells >= 2 and counts["simulate"] == cells and counts["targets"] == 1
    assert "report" not in counts and "aggregate" not in counts
    outputs = " ".join(line for line in output_of(proc).splitlines()
                       if line.strip().startswith("output:"))
    assert "reports/fedavg-mcmahan-reduced/report.pdf" in outputs
    assert "targets.pdf" not in output_of(proc)

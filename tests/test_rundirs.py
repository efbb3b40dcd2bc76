"""The one run-directory reader (fedbench.analysis.rundirs), as `fedbench aggregate` and
`fedbench targets` both see it: same files, same checks, same messages; older encodings
(B = ∞ as null) read as today's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fedbench.analysis.rundirs import read_run_dir, read_run_dirs
from fedbench.analysis.summary import load_runs
from fedbench.analysis.targets import read_target_runs
from fedbench.apps.results import ROUND_COLUMNS
from fedbench.cli import main
from fedbench.config import FULL_BATCH
from fedbench.errors import UsageError
from tests.conftest import write_run_json


def write_run(root: Path, *, batch: int | None = 10, seed: int = 0, rounds: int = 3,
              last: int | None = None, stopped: int | None = None,
              protocol: str = "mcmahan-iid", lr: float = 0.1) -> Path:
    """A 2NN FedAvg run with accuracy 0.5 + 0.1·round; rows up to ``last`` (default: R)."""
    last = rounds if last is None else last
    run_dir = root / protocol / f"B{batch}-lr{lr}" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    lines = [",".join(ROUND_COLUMNS)]
    for rnd in range(last + 1):
        acc = min(0.5 + 0.1 * rnd, 0.99)
        lines.append(f"{rnd},{1 - acc!r},{acc!r},10,0,0,0,600,0.3,nan,1.0")
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "rd", "protocol": protocol, "algorithm": "fedavg", "mu": 0.0,
              "stragglers": 0.0, "seed": seed,
              "federation": {"num_clients": 100, "clients_per_round": 10, "rounds": rounds,
                             "stop_at_target": stopped is not None},
              "training": {"model": "2nn", "local_epochs": 1, "batch_size": batch, "lr": lr,
                           "weight_decay": 0.0}}
    write_run_json(run_dir, config, status="ok", stopped_at_target=stopped,
                   config_digest=f"d{batch}{seed}", final={"round": last})
    return run_dir


@pytest.mark.parametrize("written", [None, FULL_BATCH], ids=["null (older runs)", "0"])
def test_full_batch_reads_as_zero_whichever_way_run_json_wrote_it(tmp_path, written) -> None:
    run = read_run_dir(write_run(tmp_path, batch=written))
    assert run.record["batch_size"] == FULL_BATCH == 0
    assert run.record["variant"] == "FedAvg"
    assert list(run.rounds["round"]) == [0, 1, 2, 3]


def test_targets_csv_keeps_batch_size_numeric_and_the_report_writes_infinity(tmp_path) -> None:
    from pypdf import PdfReader

    runs = [write_run(tmp_path / "old", batch=None, seed=s, lr=0.2) for s in (0, 1)]
    runs += [write_run(tmp_path / "new", batch=FULL_BATCH, seed=2, lr=0.2),
             write_run(tmp_path / "new", batch=10, seed=0)]
    out = tmp_path / "out"
    assert main(["targets", "--name", "rd", "--out-dir", str(out), *map(str, runs)]) == 0
    with (out / "targets_summary.csv").open() as f:
        table = list(csv.DictReader(f))
    # B = ∞ is 0, and its row comes after every finite B, as in the papers' tables
    assert [(r["batch_size"], r["n_seeds"]) for r in table] == [("10", "1"), ("0", "3")]
    with (out / "targets.csv").open() as f:  # one row per seed, in the same order
        assert [(r["batch_size"], r["seed"]) for r in csv.DictReader(f)] == [
            ("10", "0"), ("0", "0"), ("0", "1"), ("0", "2")]
    with (out / "targets_rounds.csv").open() as f:
        assert {r["batch_size"] for r in csv.DictReader(f)} == {"0", "10"}
    text = "\n".join(p.extract_text() for p in PdfReader(out / "report.pdf").pages)
    assert "IID 2NN 1 ∞ 0.2 0/3 > 3" in text  # the table
    assert "E=1 B=∞ lr=0.2" in text  # the legend of the curves
    assert "B ∈ {10, ∞}" in text
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "target_curves.pdf", "target_curves.png"]  # no temporary files left


def test_aggregate_and_targets_refuse_a_broken_run_with_the_same_message(tmp_path) -> None:
    run = write_run(tmp_path, last=2)  # configured for 3 rounds, the file stops at round 2
    messages = []
    for read in (load_runs, read_target_runs):
        with pytest.raises(UsageError) as err:
            read([run])
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "rounds.csv: ends at round 2" in messages[0]
    assert "finished ok with 3 rounds" in messages[0]


def test_a_run_that_stopped_at_its_target_is_for_targets_not_for_a_summary(tmp_path) -> None:
    run = write_run(tmp_path, rounds=10, last=4, stopped=4)
    data = read_target_runs([run])
    assert data.runs["rounds_to_target"].tolist() == [4]
    with pytest.raises(UsageError, match="stopped at its target accuracy at round 4 of 10"):
        load_runs([run])


def test_stopped_at_target_must_be_a_round(tmp_path) -> None:
    run = write_run(tmp_path)
    payload = json.loads((run / "run.json").read_text())
    payload["stopped_at_target"] = True
    (run / "run.json").write_text(json.dumps(payload))
    with pytest.raises(UsageError, match="stopped_at_target must be a round >= 1"):
        read_run_dir(run)


def test_the_same_run_twice_is_refused_with_both_directories_named(tmp_path) -> None:
    first = write_run(tmp_path / "a")
    second = write_run(tmp_path / "b")
    with pytest.raises(UsageError) as err:
        read_run_dirs([first, second], ("protocol", "seed"), "cell")
    assert str(second) in str(err.value) and str(first) in str(err.value)
    assert "same cell and seed" in str(err.value)
    with pytest.raises(UsageError, match="no run directories given"):
        read_run_dirs([], ("seed",), "cell")

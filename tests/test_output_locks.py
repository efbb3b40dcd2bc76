"""Outputs never collide (issue 13, class 8).

`fedbench run` holds a lock on its output directory (``OUT/.lock``, with its pid) for as long
as it runs: a second writer on the same ``--out`` ends in exit 2 naming the first one's pid,
instead of racing it. An ``--out`` that holds a report (summary.csv, report.pdf, ...), the
workflow's grid directory, or another cell's run is refused before anything is written. The
same cell run again (another round count, a resume from its checkpoint) is not another cell:
it replaces its own files, as the workflow does when a setting changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fedbench.apps.run import LOCK_FILE, check_own_directory
from fedbench.config import validate_run_config
from fedbench.errors import ConfigError
from tests.conftest import tiny_experiment

REPO = Path(__file__).resolve().parents[1]


def fedbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedbench.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO, check=False)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture
def config(tmp_path: Path, mnist_root: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_experiment(mnist_root)))
    return path


CELL = ("--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.5", "--quiet")


# --- the lock ---------------------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_first(tmp_path, config) -> None:
    out = tmp_path / "cell"
    out.mkdir()
    with (out / LOCK_FILE).open("w") as held:  # this test process is the first writer
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(f"{os.getpid()} on here\n")
        held.flush()
        proc = fedbench("run", "--config", str(config), "--out", str(out), *CELL)
    assert proc.returncode == 2
    assert (f"--out {out}: another fedbench run (pid {os.getpid()} on here) is writing there"
            in proc.stderr)
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written
    # the lock is gone with its holder: the same command now runs
    proc = fedbench("run", "--config", str(config), "--out", str(out), *CELL)
    assert proc.returncode == 0, proc.stderr
    assert {"rounds.csv", "run.json"} <= {p.name for p in out.iterdir()}


@pytest.mark.slow
def test_two_real_runs_on_one_out_do_not_race(tmp_path, mnist_root) -> None:
    long = tmp_path / "long.yaml"
    long.write_text(yaml.safe_dump(tiny_experiment(mnist_root, federation={"rounds": 5000},
                                                   runtime={"checkpoint_every": 1})))
    out = tmp_path / "cell"
    first = subprocess.Popen([sys.executable, "-m", "fedbench.cli", "run", "--config", str(long),
                              "--out", str(out), *CELL], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.npz").exists():  # the first writer is well under way
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = fedbench("run", "--config", str(long), "--out", str(out), *CELL)
        assert second.returncode == 2
        assert f"another fedbench run (pid {first.pid} on " in second.stderr
        assert first.poll() is None  # the first one goes on undisturbed
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == -signal.SIGTERM
    assert not (out / "run.json").exists()  # no half-written result from either of them


@pytest.mark.slow
def test_a_killed_writer_leaves_no_lock_behind(tmp_path, mnist_root) -> None:
    long = tmp_path / "long.yaml"
    long.write_text(yaml.safe_dump(tiny_experiment(mnist_root, federation={"rounds": 12},
                                                   runtime={"checkpoint_every": 2})))
    out = tmp_path / "cell"
    proc = subprocess.Popen([sys.executable, "-m", "fedbench.cli", "run", "--config", str(long),
                             "--out", str(out), *CELL], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup at all; the kernel drops the flock with the process
    proc.communicate()
    again = fedbench("run", "--config", str(long), "--out", str(out), *CELL)
    assert again.returncode == 0, again.stderr


# --- whose directory it is --------------------------------------------------------------------


def _cell(**changes) -> dict:
    base = {"name": "tiny", "protocol": "flower-baseline", "algorithm": "fedprox", "mu": 2.0,
            "stragglers": 0.5, "seed": 0,
            "federation": {"num_clients": 20, "clients_per_round": 5, "rounds": 3},
            "training": {"model": "logreg", "local_epochs": 3, "batch_size": 10, "lr": 0.03,
                         "weight_decay": 0.001}}
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            base[outer] = {**base[outer], inner: value}
        else:
            base[key] = value
    return base


def _with_run_json(directory: Path, config: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "run.json").write_text(json.dumps({"status": "ok", "config": config}))
    (directory / "rounds.csv").write_text("round,test_loss\n0,1.0\n")
    return directory


@pytest.mark.parametrize(("theirs", "named"), [
    ({"seed": 1}, "seed=1; this run: seed=0"),
    ({"mu": 0.0}, "mu=0.0; this run: mu=2.0"),
    ({"algorithm": "fedavg", "mu": 0.0}, "algorithm='fedavg', mu=0.0; this run: "
                                         "algorithm='fedprox', mu=2.0"),
    ({"stragglers": 0.9}, "stragglers=0.9"),
    ({"protocol": "paper"}, "protocol='paper'"),
    ({"name": "other"}, "name='other'"),
    ({"training.lr": 0.1}, "training.lr=0.1; this run: training.lr=0.03"),
    ({"training.batch_size": None}, "training.batch_size=0"),  # B = ∞, however written
    ({"params": {"server_lr": 0.1}}, "params={'server_lr': 0.1}; this run: params={}"),
])
def test_another_cells_directory_is_refused(tmp_path, theirs, named) -> None:
    out = _with_run_json(tmp_path / "cell", _cell(**theirs))
    before = snapshot(out)
    with pytest.raises(ConfigError) as err:
        check_own_directory(out, validate_run_config(_cell()))
    assert f"--out {out} holds the run of another cell ({named}" in str(err.value)
    assert f"delete {out} to replace that run" in str(err.value)
    assert snapshot(out) == before


@pytest.mark.parametrize("change", [{"federation.rounds": 50}, {"federation.num_clients": 40},
                                    {"training.weight_decay": 0.0}])
def test_the_same_cell_with_another_setting_is_its_own_directory(tmp_path, change) -> None:
    out = _with_run_json(tmp_path / "cell", _cell(**change))
    check_own_directory(out, validate_run_config(_cell()))  # no error: it replaces its files


@pytest.mark.parametrize("name", ["summary.csv", "report.pdf", "provenance.json", "targets.csv",
                                  "run_config.yaml"])
def test_a_report_or_grid_directory_is_refused(tmp_path, name) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / name).write_text("x")
    message = f"holds {name}: it is a report or a grid's directory"
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_own_directory(out, validate_run_config(_cell()))


def test_an_aggregated_rounds_csv_is_refused(tmp_path) -> None:
    out = tmp_path / "somewhere"
    out.mkdir()
    (out / "rounds.csv").write_text("name,protocol,algorithm\nx,y,z\n")
    with pytest.raises(ConfigError, match=r"holds a rounds\.csv that is not a cell's"):
        check_own_directory(out, validate_run_config(_cell()))


def test_an_unreadable_run_json_is_refused(tmp_path) -> None:
    out = tmp_path / "cell"
    out.mkdir()
    (out / "run.json").write_text("{cut")
    with pytest.raises(ConfigError, match=r"holds a run\.json fedbench cannot read"):
        check_own_directory(out, validate_run_config(_cell()))


@pytest.mark.slow
def test_out_into_a_report_overwrites_nothing(tmp_path, config) -> None:
    """The issue's case: --out pointing into reports/<name>/ silently overwrote its rounds.csv."""
    from tests.test_aggregate import flat, write_run

    runs = [write_run(tmp_path / "results", "fedavg", 0.0, 0.5, s, flat(0.5, 3)) for s in (0, 1)]
    reports = tmp_path / "reports" / "tiny"
    proc = fedbench("aggregate", "--name", "tiny", "--out-dir", str(reports), *map(str, runs))
    assert proc.returncode == 0, proc.stderr
    before = snapshot(reports)
    proc = fedbench("run", "--config", str(config), "--out", str(reports), *CELL)
    assert proc.returncode == 2
    assert f"--out {reports} holds summary.csv" in proc.stderr
    assert snapshot(reports) == before
    assert sorted(p.name for p in reports.iterdir()) == sorted(before)  # not even a lock file


@pytest.mark.slow
def test_the_same_cell_reruns_in_its_directory_and_another_does_not(tmp_path, config) -> None:
    out = tmp_path / "cell"
    assert fedbench("run", "--config", str(config), "--out", str(out), *CELL).returncode == 0
    first = snapshot(out)
    again = fedbench("run", "--config", str(config), "--out", str(out), "--rounds", "2", *CELL)
    assert again.returncode == 0, again.stderr  # another round count: the same cell, replaced
    assert json.loads((out / "run.json").read_text())["config"]["federation"]["rounds"] == 2
    other = fedbench("run", "--config", str(config), "--out", str(out), "--seed", "3", *CELL)
    assert other.returncode == 2 and "holds the run of another cell (seed=0; this run: seed=3)" \
        in other.stderr
    assert snapshot(out)["run.json"] != first["run.json"]
    shutil.rmtree(out)  # what the message says: delete it to replace that run
    assert fedbench("run", "--config", str(config), "--out", str(out), "--seed", "3",
                    *CELL).returncode == 0

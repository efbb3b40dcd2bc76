"""Shared fixtures: verified MNIST (obtained once, offline-capable) and tiny cell configs."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def interruptible_children():
    """Children inherit an ignored SIGINT (a test suite started as a background job of a
    non-interactive shell has one), and a Python started so never raises KeyboardInterrupt:
    the tests that interrupt a run with SIGINT would test nothing. A handled SIGINT is reset
    to the default on exec, so handling it here gives every child a working Ctrl-C."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The repository's data root with verified MNIST (fetched through fedbench if missing)."""
    from fedbench.data import mnist

    root = Path(os.environ.get("FEDBENCH_DATA_ROOT", REPO / "resources"))
    mnist.ensure_mnist(root)
    return root


def tiny_experiment(mnist_root: Path, **overrides) -> dict:
    """A 20-client, 3-round experiment: seconds to run, same code paths as the real grid."""
    cfg = {
        "name": "tiny",
        "protocol": "flower-baseline",
        "data": {"root": str(mnist_root)},
        "federation": {"num_clients": 20, "clients_per_round": 5, "rounds": 3},
        "training": {
            "model": "logreg",
            "local_epochs": 3,
            "batch_size": 10,
            "lr": 0.03,
            "weight_decay": 0.001,
        },
        "runtime": {"backend": "inprocess", "device": "cpu", "threads": 1},
    }
    for key, value in overrides.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    return cfg


@pytest.fixture
def tiny_config(tmp_path: Path, mnist_root: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_experiment(mnist_root)))
    return path


def write_run_json(run_dir: Path, config: dict, **fields: Any) -> None:
    """run.json as `fedbench run` writes it: ``fields`` (status, final, digest, ...) plus a
    fixed provenance (versions, commit, times) that the aggregating code reads."""
    payload = {
        "config": config,
        "wall_seconds": 30.0,
        "versions": {"fedbench": "0.1.0", "flwr": "1.42.0", "torch": "2.14.1",
                     "numpy": "2.4.6", "python": "3.11.7"},
        "git_commit": "feedc0ffee",
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T01:00:00+00:00",
        "backend": "inprocess",
        **fields,
    }
    (run_dir / "run.json").write_text(json.dumps(payload))


def kill_after_first_checkpoint(cmd: list[str], out: Path) -> Path:
    """Start ``cmd`` (a `fedbench run` writing to ``out``), SIGKILL it once its first
    checkpoint exists, and return the checkpoint's path (asserted to survive the kill)."""
    import subprocess
    import time

    path = out / "checkpoint.npz"
    proc = subprocess.Popen(cmd)
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert path.exists(), "no checkpoint was written before the kill"
    return path

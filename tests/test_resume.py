"""Interruption: a killed `fedbench run` resumes from its checkpoint with identical numbers."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedbench.apps import checkpoint
from tests.conftest import kill_after_first_checkpoint, tiny_experiment


def _rounds(out: Path) -> list[dict]:
    with (out / "rounds.csv").open() as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _cmd(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "fedbench.cli", "run", "--config", str(config), "--out",
            str(out), "--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.5", "--quiet"]


@pytest.fixture
def long_config(tmp_path: Path, mnist_root: Path) -> Path:
    cfg = tiny_experiment(mnist_root, federation={"rounds": 120},
                          runtime={"checkpoint_every": 5})
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_sigkill_then_rerun_gives_the_uninterrupted_numbers(long_config: Path, tmp_path: Path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(_cmd(long_config, reference), check=True)

    assert kill_after_first_checkpoint(_cmd(long_config, killed), killed).name == \
        checkpoint.FILENAME
    # nothing that looks complete survives the kill
    assert not (killed / "rounds.csv").exists() and not (killed / "run.json").exists()

    subprocess.run(_cmd(long_config, killed), check=True)
    assert _rounds(killed) == _rounds(reference)
    assert not (killed / checkpoint.FILENAME).exists()  # removed once the run completed


def test_a_checkpoint_of_another_config_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.FILENAME
    ckpt = checkpoint.Checkpoint(5, {"w": np.arange(3.0)}, {"evals": {}, "log": []})
    checkpoint.save(path, "digest-a", ckpt)
    assert checkpoint.load(path, "digest-b") is None
    loaded = checkpoint.load(path, "digest-a")
    assert loaded is not None and loaded.server_round == 5
    np.testing.assert_array_equal(loaded.arrays["w"], np.arange(3.0))


def test_an_unreadable_checkpoint_means_start_over(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.FILENAME
    path.write_bytes(b"not a checkpoint")
    assert checkpoint.load(path, "any") is None

"""Files fedbench wrote and later trusts are checked: a damaged one is never used as it is.

A crash, a full disk or a stray edit can leave a checkpoint half written. Such a file
must neither block its cell for good nor be resumed from: it is reported in one line,
set aside, and the cell starts again from round 0, with exactly the numbers of an
uninterrupted run.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedbench.apps import checkpoint
from tests.conftest import tiny_experiment


def _rounds(out: Path) -> list[dict]:
    with (out / "rounds.csv").open() as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _run(config: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fedbench.cli", "run", "--config", str(config), "--out",
           str(out), "--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.5", "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def config_and_reference(tmp_path_factory, mnist_root: Path) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("damaged")
    config = tmp / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_experiment(mnist_root, federation={"rounds": 6},
                                                     runtime={"checkpoint_every": 2})))
    reference = tmp / "reference"
    assert _run(config, reference).returncode == 0
    return config, reference


def _valid_checkpoint_bytes(tmp: Path) -> bytes:
    """The bytes of a well-formed checkpoint (round 4): the damaged ones are cut from it."""
    path = tmp / "valid.npz"
    arrays = {"fc.weight": np.zeros((10, 784), np.float32), "fc.bias": np.zeros(10, np.float32)}
    state = {"evals": {}, "global_train_loss": {}, "log": []}
    checkpoint.save(path, "any-digest", checkpoint.Checkpoint(4, arrays, state))
    return path.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "half-zip"])
def test_a_damaged_checkpoint_is_set_aside_and_the_cell_starts_over(
        config_and_reference, tmp_path: Path, damage: str) -> None:
    config, reference = config_and_reference
    out = tmp_path / "cell"
    out.mkdir()
    valid = _valid_checkpoint_bytes(tmp_path)
    blob = {"empty": b"", "truncated": valid[: len(valid) // 3], "garbage": b"\x00junk" * 50,
            "half-zip": valid[: len(valid) - 40]}[damage]
    (out / checkpoint.FILENAME).write_bytes(blob)

    done = _run(config, out)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    notes = [line for line in done.stderr.splitlines() if "unreadable" in line]
    assert len(notes) == 1 and "set aside as checkpoint.npz.damaged" in notes[0]
    assert "starting from round 0" in notes[0]
    assert (out / "checkpoint.npz.damaged").read_bytes() == blob  # kept for inspection
    assert not (out / checkpoint.FILENAME).exists()  # the run completed and removed its own
    assert _rounds(out) == _rounds(reference)


def test_a_checkpoint_with_an_impossible_round_is_not_resumed(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.FILENAME
    checkpoint.save(path, "d", checkpoint.Checkpoint(0, {"w": np.zeros(2)}, {"log": []}))
    messages: list[str] = []
    assert checkpoint.load(path, "d", warn=messages.append) is None
    assert len(messages) == 1 and "round 0" in messages[0]
    assert not path.exists() and path.with_name(path.name + ".damaged").exists()

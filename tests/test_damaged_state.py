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


# --- the partition cache ----------------------------------------------------------------------


def _labels() -> np.ndarray:
    return np.repeat(np.arange(10), 30)  # 300 samples, 10 labels


def _cache(root: Path, messages: list[str], protocol: str = "flower-baseline", seed: int = 3,
           labels: np.ndarray | None = None):
    from fedbench.data import cache, partitioners

    labels = _labels() if labels is None else labels
    return cache.cached_partition(root, protocol, partitioners.power_law, labels, 20, seed,
                                  warn=messages.append)


def _same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_partition_cache_is_rebuilt_and_the_run_says_so(tmp_path: Path,
                                                                  damage: str) -> None:
    from fedbench.data import cache

    messages: list[str] = []
    built = _cache(tmp_path, messages)
    assert messages == []
    path = cache.partition_path(tmp_path, "flower-baseline", 20, 3)
    blob = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": blob[: len(blob) // 2],
                      "garbage": b"PK\x03\x04" + b"\xff" * 64}[damage])

    again = _cache(tmp_path, messages)

    assert _same(again, built)
    assert len(messages) == 1 and "is unusable" in messages[0] and "rebuilding" in messages[0]
    assert path.read_bytes() == blob  # the rebuilt cache is the original one again
    assert _same(_cache(tmp_path, messages), built) and len(messages) == 1  # and trusted


def test_a_cache_of_another_seed_or_protocol_with_the_right_length_is_not_used(
        tmp_path: Path) -> None:
    from fedbench.data import cache

    messages: list[str] = []
    other = _cache(tmp_path / "a", messages, seed=4)
    mine_path = cache.partition_path(tmp_path / "b", "flower-baseline", 20, 3)
    mine_path.parent.mkdir(parents=True)
    other_path = cache.partition_path(tmp_path / "a", "flower-baseline", 20, 4)
    mine_path.write_bytes(other_path.read_bytes())  # same length, another seed's split

    mine = _cache(tmp_path / "b", messages)

    assert not _same(mine, other)
    assert _same(mine, _cache(tmp_path / "c", []))
    assert len(messages) == 1 and "'seed': 4" not in messages[0] and '"seed": 4' in messages[0]


def test_a_cache_built_from_other_labels_is_not_used(tmp_path: Path) -> None:
    messages: list[str] = []
    _cache(tmp_path, messages)
    shuffled = np.random.default_rng(0).permutation(_labels())
    _cache(tmp_path, messages, labels=shuffled)
    assert len(messages) == 1 and "labels_sha256" in messages[0]


def test_an_unwritable_data_root_builds_the_partition_without_caching_it(
        tmp_path: Path) -> None:
    """Where the cache cannot be written (here ``partitions`` is a file, which even root
    cannot write into), the run goes on with the partition it built, and says so."""
    root = tmp_path / "blocked"
    root.mkdir()
    (root / "partitions").write_text("not a directory")
    messages: list[str] = []
    parts = _cache(root, messages)
    assert len(messages) == 1 and "not written" in messages[0]
    assert _same(parts, _cache(tmp_path / "writable", []))


def test_written_files_get_the_mode_of_any_new_file(tmp_path: Path) -> None:
    """Atomic writes go through a private temporary file; the result is not left 0600."""
    import os

    from fedbench.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.csv", "x\n")
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.csv", "x\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o600

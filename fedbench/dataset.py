"""The federated view of MNIST: raw images plus each client's indices, preprocessed on demand.

Loaded once per process. The IDX files are read straight into numpy (no
torchvision import: that alone costs seconds of start-up), verified once per
process. Training images stay as uint8; a client's float tensors are
materialised on its first use and kept, so a round costs no DataLoader, no
per-sample Python and no preprocessing of the 60,000 images nobody sampled.
When the protocol's preprocessing is a per-pixel function (as the published
ones are) it is applied through a 256-entry lookup table built by the
protocol's own function, which gives the same bits at a fraction of the cost.
Partitions are cached on disk per (protocol, clients, seed).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fedbench import mnist, partition
from fedbench.protocols import Protocol, get_protocol

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


@dataclass
class FederatedData:
    train_images: np.ndarray  # uint8 (N, 28, 28), as read
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    client_train: Sequence[np.ndarray]  # TrainIndices: computed per client on first use
    preprocess: object = field(repr=False, default=None)  # uint8 rows -> float32 (n, 784)
    device: str = "cpu"
    # federated evaluation (fedbench.federations): every client's training split, stacked
    eval_train: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)
    _slices: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)

    @property
    def num_clients(self) -> int:
        return len(self.client_train)

    @property
    def train_x(self) -> torch.Tensor:
        """The whole preprocessed training set (built on request; training never needs it)."""
        return torch.from_numpy(self.preprocess(self.train_images)).to(self.device)

    def client(self, cid: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Client ``cid``'s training tensors (contiguous, made once per process)."""
        if cid not in self._slices:
            idx = self.client_train[cid]
            x = torch.from_numpy(self.preprocess(self.train_images[idx])).to(self.device)
            y = self.train_y.index_select(0, torch.from_numpy(idx).to(self.train_y.device))
            self._slices[cid] = (x, y)
        return self._slices[cid]


# --- reading the IDX files -----------------------------------------------------------------------

_VERIFIED: set[tuple] = set()


def _signature(directory: Path) -> tuple:
    """What identifies the four files as the ones verified: path, inode, size, mtime."""
    stats = [os.stat(directory / name) for name in mnist.IDX_MD5]
    return (
        str(directory.resolve()),
        *(
            (name, s.st_ino, s.st_size, s.st_mtime_ns)
            for name, s in zip(mnist.IDX_MD5, stats, strict=True)
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
    path = _stamp_path(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sig))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data root: verify by MD5 every time instead


def verify_once(root: str | Path) -> None:
    """``mnist.verify_idx`` (the MD5 of every file), once per unchanged set of files.

    A successful check is remembered in this process and in a stamp next to the
    partition cache, keyed by each file's inode, size and modification time: an
    edited, replaced or re-fetched file has a new signature and is checked again.
    Raises ``mnist.DataError`` like ``verify_idx``.
    """
    directory = mnist.raw_dir(root)
    try:
        sig = _signature(directory)
    except OSError:
        sig = None
    if sig is not None and (sig in _VERIFIED or _stamped(root, sig)):
        _VERIFIED.add(sig)
        return
    mnist.verify_idx(directory)
    if sig is not None:
        _VERIFIED.add(sig)
        _write_stamp(root, sig)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (unsigned-byte data) as a numpy array of its declared shape."""
    blob = path.read_bytes()
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08:
        raise mnist.DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = blob[3]
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(blob, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise mnist.DataError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def read_mnist(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The verified IDX files as uint8 images and int64 labels (what torchvision's MNIST reads)."""
    verify_once(root)
    raw = mnist.raw_dir(root)
    return (
        read_idx(raw / TRAIN_IMAGES),
        read_idx(raw / TRAIN_LABELS).astype(np.int64),
        read_idx(raw / TEST_IMAGES),
        read_idx(raw / TEST_LABELS).astype(np.int64),
    )


# --- preprocessing -------------------------------------------------------------------------------


def pixel_lookup(protocol: Protocol) -> np.ndarray | None:
    """The protocol's preprocessing as a 256-entry table, or None if it is not per-pixel.

    The table is the protocol's own function applied to every byte value, and it
    is used only after a probe shows the output at each pixel depends on that
    pixel's byte alone (same value anywhere in any image -> same float), so
    ``table[images]`` reproduces ``protocol.preprocess(images)`` bit for bit.
    """
    values = np.arange(256, dtype=np.uint8)
    rng = np.random.default_rng(0)
    probe = np.concatenate(
        [
            np.resize(values, (4, 28, 28)),  # every value, at shifting positions
            rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
            np.zeros((1, 28, 28), np.uint8),
            np.full((1, 28, 28), 255, np.uint8),
        ]
    )
    try:
        out = np.asarray(protocol.preprocess(probe))
    except Exception:  # an unusual preprocess: fall back to calling it on each client's rows
        return None
    if out.shape != (probe.shape[0], 784) or out.dtype != np.float32:
        return None
    flat = probe.reshape(probe.shape[0], -1)
    table = np.zeros(256, np.float32)
    table[flat[:4].ravel()] = out[:4].ravel()
    if not np.array_equal(table[flat].view(np.uint32), out.view(np.uint32)):
        return None
    return table


def make_preprocess(protocol: Protocol):
    """uint8 images (n, 28, 28) -> float32 (n, 784), identical to ``protocol.preprocess``."""
    table = pixel_lookup(protocol)
    if table is None:
        return lambda images: np.ascontiguousarray(protocol.preprocess(images), dtype=np.float32)

    def by_table(images: np.ndarray) -> np.ndarray:
        return table[images.reshape(images.shape[0], -1)]

    return by_table


class TrainIndices(Sequence):
    """Each client's training indices (partition minus held-out share), made on first use."""

    def __init__(self, parts: partition.Partition, seed: int, val_fraction: float) -> None:
        self._parts, self._seed, self._val_fraction = parts, seed, val_fraction
        self._done: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._parts)

    def __getitem__(self, cid):  # type: ignore[override]
        if isinstance(cid, slice):
            return [self[i] for i in range(*cid.indices(len(self)))]
        cid = range(len(self))[cid]  # bounds check, negative indices
        if cid not in self._done:
            self._done[cid] = partition.train_val_split(
                self._parts[cid], self._seed, cid, self._val_fraction
            )[0]
        return self._done[cid]


# --- partitions ----------------------------------------------------------------------------------


def partition_path(root: str | Path, protocol: str, num_clients: int, seed: int) -> Path:
    return Path(root) / "partitions" / f"{protocol}-n{num_clients}-s{seed}.npz"


def client_partition(
    root: str | Path, protocol: Protocol, labels: np.ndarray, num_clients: int, seed: int
) -> partition.Partition:
    """Load the cached partition, or build and cache it (atomic: safe under concurrent jobs)."""
    path = partition_path(root, protocol.name, num_clients, seed)
    if path.is_file():
        parts = partition.load(path)
        if len(parts) == num_clients:
            return parts
    parts = protocol.split(labels, num_clients, seed)
    partition.save(path, parts)
    return parts


def load_federated(
    root: str | Path, protocol_name: str, num_clients: int, seed: int, device: str = "cpu"
) -> FederatedData:
    protocol = get_protocol(protocol_name)
    if protocol.data != "mnist-train":  # all 70k MNIST images or a generated federation
        from fedbench import federations

        return federations.load(root, protocol, num_clients, seed, device)
    tr_x, tr_y, te_x, te_y = read_mnist(root)
    parts = client_partition(root, protocol, tr_y, num_clients, seed)
    train_idx = TrainIndices(parts, seed, protocol.val_fraction)
    dev = torch.device(device)
    preprocess = make_preprocess(protocol)
    return FederatedData(
        train_images=tr_x,
        train_y=torch.from_numpy(tr_y).to(dev),
        test_x=torch.from_numpy(preprocess(te_x)).to(dev),
        test_y=torch.from_numpy(te_y).to(dev),
        client_train=train_idx,
        preprocess=preprocess,
        device=device,
    )


@functools.lru_cache(maxsize=4)
def cached_federated(
    root: str, protocol_name: str, num_clients: int, seed: int, device: str = "cpu"
) -> FederatedData:
    """Per-process cache: a ClientApp handles many messages; data is read once."""
    return load_federated(root, protocol_name, num_clients, seed, device)

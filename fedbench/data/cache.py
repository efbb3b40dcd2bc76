"""The on-disk cache of client partitions, one ``.npz`` per (protocol, clients, seed).

A partition is a pure function of its arguments, so a cache is only a shortcut: building
it again gives the same indices. It is written atomically (``fedbench.io``), so concurrent
jobs building the same cache never see a torn file, and it holds arrays only (``.npz``
without pickles): loading it can never run code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from fedbench.data.partitioners import Partition
from fedbench.io import atomic_write


def partition_path(root: str | Path, protocol: str, num_clients: int, seed: int) -> Path:
    return Path(root) / "partitions" / f"{protocol}-n{num_clients}-s{seed}.npz"


def save(path: Path, parts: Partition) -> None:
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    atomic_write(path, lambda handle: np.savez(handle, sizes=sizes, flat=flat))


def load(path: Path) -> Partition:
    with np.load(path) as z:
        sizes, flat = z["sizes"], z["flat"]
    return list(np.split(flat, np.cumsum(sizes)[:-1]))


def cached_partition(root: str | Path, protocol: str,
                     split: Callable[[np.ndarray, int, int], Partition], labels: np.ndarray,
                     num_clients: int, seed: int) -> Partition:
    """Load the cached partition, or build it with ``split`` and cache it."""
    path = partition_path(root, protocol, num_clients, seed)
    if path.is_file():
        parts = load(path)
        if len(parts) == num_clients:
            return parts
    parts = split(labels, num_clients, seed)
    save(path, parts)
    return parts

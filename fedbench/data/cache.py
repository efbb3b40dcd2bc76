"""The on-disk cache of client partitions, one ``.npz`` per (protocol, clients, seed).

A partition is a pure function of its arguments, so a cache is only a shortcut: building
it again gives the same indices. It is written atomically (``fedbench.io``), so concurrent
jobs building the same cache never see a torn file; it holds arrays only (``.npz``
without pickles), so loading it can never run code; and it is checked on load, so a
damaged or foreign cache is rebuilt instead of used.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fedbench.data.partitioners import Partition
from fedbench.io import atomic_write


def partition_path(root: str | Path, protocol: str, num_clients: int, seed: int) -> Path:
    return Path(root) / "partitions" / f"{protocol}-n{num_clients}-s{seed}.npz"


def _identity(protocol: str, labels: np.ndarray, num_clients: int, seed: int) -> str:
    """What a cache was built from: protocol, clients, seed and the labels it split."""
    return json.dumps({"protocol": protocol, "num_clients": num_clients, "seed": seed,
                       "samples": len(labels),
                       "labels_sha256": hashlib.sha256(np.ascontiguousarray(labels)).hexdigest()},
                      sort_keys=True)


def save(path: Path, parts: Partition, identity: str) -> None:
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    atomic_write(path, lambda handle: np.savez(handle, sizes=sizes, flat=flat,
                                               identity=np.array(identity)))


def load(path: Path, identity: str, num_samples: int) -> Partition:
    """The partition cached at ``path``; ``ValueError`` (or the reader's error) when the file
    is damaged, was built from something else, or cannot be a partition of the data."""
    with np.load(path, allow_pickle=False) as z:
        stored, sizes, flat = str(z["identity"]), z["sizes"], z["flat"]
    if stored != identity:
        raise ValueError(f"built from {stored}, not {identity}")
    if sizes.ndim != 1 or (sizes < 0).any() or int(sizes.sum()) != len(flat):
        raise ValueError("client sizes do not add up to the stored indices")
    if len(flat) and (flat.min() < 0 or flat.max() >= num_samples
                      or len(np.unique(flat)) != len(flat)):
        raise ValueError("indices out of range or repeated")
    return list(np.split(flat, np.cumsum(sizes)[:-1]))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cached_partition(root: str | Path, protocol: str,
                     split: Callable[[np.ndarray, int, int], Partition], labels: np.ndarray,
                     num_clients: int, seed: int,
                     warn: Callable[[str], None] = _stderr) -> Partition:
    """Load the cached partition, or build it with ``split`` and cache it.

    A cache is trusted only after checking it: it records the protocol, number of clients,
    seed and a hash of the labels it split, and its indices must be a valid partition of
    them. A damaged (truncated, empty, edited) or mismatched cache is rebuilt, and ``warn``
    says so; a cache that cannot be written (a read-only data root) is simply not kept.
    """
    path = partition_path(root, protocol, num_clients, seed)
    identity = _identity(protocol, labels, num_clients, seed)
    if path.is_file():
        try:
            parts = load(path, identity, len(labels))
            if len(parts) == num_clients:
                return parts
            raise ValueError(f"{len(parts)} clients, not {num_clients}")
        except Exception as exc:  # any way of being unusable: rebuild
            warn(f"partition cache {path} is unusable ({type(exc).__name__}: "
                 f"{str(exc)[:200]}); rebuilding it")
    parts = split(labels, num_clients, seed)
    try:
        save(path, parts, identity)
    except OSError as exc:
        warn(f"partition cache {path} not written ({exc.strerror}); it is rebuilt each run")
    return parts

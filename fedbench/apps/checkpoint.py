"""Round checkpoints of a running cell, so that a killed run resumes instead of restarting.

A checkpoint holds the global model after round r and the bookkeeping of rounds
0..r. It is written atomically (temporary name, then rename) and carries the
digest of the numbers-defining config, so a checkpoint of another config is
never resumed, and a fingerprint of the code (``fedbench.digest.runtime_digest`` and
the flwr/torch/numpy versions), so a run killed before a code change restarts
rather than mixing rounds of two versions. It is an ``.npz`` (arrays plus one
JSON string), not a pickle: loading a checkpoint can never run code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fedbench.digest import runtime_digest
from fedbench.io import atomic_write

FILENAME = "checkpoint.npz"
_STATE = "__state__"


@dataclass(frozen=True)
class Checkpoint:
    server_round: int
    arrays: dict[str, np.ndarray]
    state: dict[str, Any]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The runtime code's digest and the numerical stack's versions (short)."""
    h = hashlib.sha256(runtime_digest().encode())
    for dist in ("flwr", "torch", "numpy"):
        try:
            h.update(f"{dist}=={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(dist.encode())
    return h.hexdigest()[:16]


def save(path: Path, digest: str, ckpt: Checkpoint) -> None:
    payload = {
        "digest": digest,
        "code": code_fingerprint(),
        "round": ckpt.server_round,
        "state": ckpt.state,
    }
    if _STATE in ckpt.arrays:
        raise ValueError(f"array name {_STATE!r} is reserved")
    state = np.array(json.dumps(payload))
    atomic_write(path, lambda handle: np.savez(handle, **ckpt.arrays, **{_STATE: state}))


def load(path: Path, digest: str) -> Checkpoint | None:
    """The checkpoint at ``path`` if it belongs to the config with ``digest``, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            payload = json.loads(str(z[_STATE]))
            arrays = {k: z[k] for k in z.files if k != _STATE}
    except (OSError, ValueError, KeyError):
        return None  # unreadable: start over rather than resume from garbage
    if payload.get("digest") != digest or payload.get("code") != code_fingerprint():
        return None  # another config, or another version of the code: start over
    return Checkpoint(int(payload["round"]), arrays, payload["state"])


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)

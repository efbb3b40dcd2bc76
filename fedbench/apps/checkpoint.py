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
import os
from collections.abc import Callable
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


def load(path: Path, digest: str,
         warn: Callable[[str], None] = lambda _message: None) -> Checkpoint | None:
    """The checkpoint at ``path`` if it belongs to the config with ``digest``, else None.

    A file that cannot be read as a checkpoint (truncated by a crash or a full disk, empty,
    edited) must not block its cell for good: it is renamed to ``<name>.damaged`` (kept for
    inspection, never read again), ``warn`` is told in one line, and the cell starts again
    from round 0, which gives exactly the numbers of an uninterrupted run.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            payload = json.loads(str(z[_STATE]))
            arrays = {k: z[k] for k in z.files if k != _STATE}
        server_round = int(payload["round"])
        state = payload["state"]
        if not isinstance(state, dict) or server_round < 1:
            raise ValueError(f"round {server_round}, state {type(state).__name__}")
    except Exception as exc:  # any way of being unreadable: zip, npy, JSON, missing key
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        warn(f"checkpoint {path} is unreadable ({type(exc).__name__}: {str(exc)[:200]}); "
             f"set aside as {aside.name}, starting from round 0")
        return None
    if payload.get("digest") != digest or payload.get("code") != code_fingerprint():
        return None  # another config, or another version of the code: start over
    return Checkpoint(server_round, arrays, state)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)

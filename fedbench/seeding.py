"""Named random streams: every random choice is a pure function of its keys.

A cell's randomness (partition, client sampling, straggler draws, batch order,
model initialisation) must not depend on execution order, backend or worker
count. Each choice therefore gets its own generator, derived from
``(seed, stream name, *keys)`` — e.g. ``rng_for(seed, "sample", round)`` — so
two algorithms run with the same seed draw the same clients and stragglers.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_id(name: str) -> int:
    """Stable integer for a stream name (CRC32; Python's ``hash`` is salted per process)."""
    return zlib.crc32(name.encode())


def seed_sequence(seed: int, stream: str, *keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), stream_id(stream), *(int(k) for k in keys)])


def rng_for(seed: int, stream: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(seed_sequence(seed, stream, *keys))


def torch_seed_for(seed: int, stream: str, *keys: int) -> int:
    """A 63-bit seed for ``torch.Generator().manual_seed`` from the same derivation."""
    return int(seed_sequence(seed, stream, *keys).generate_state(2, np.uint64)[0] >> np.uint64(1))

"""Quantity skew, q ~ Dir(β): client sizes drawn from a Dirichlet(β), labels as in the pool.

NIID-Bench (Li et al., ICDE 2022, section III-C) draws the client shares q ~ Dir(β·1_N),
redraws until the smallest share holds ``min_size`` samples, and cuts a shuffle of the
whole pool at the cumulative shares. fedbench cuts each label's shuffled samples at the
same shares instead (a stratified cut), so every client keeps the global label
distribution up to rounding, which is the definition of quantity skew, rather than only
in expectation; the client sizes are the same up to rounding.
"""

from __future__ import annotations

import numpy as np

from fedbench.data.partitions.base import (
    DirichletParameters,
    PartitionDocs,
    Partitioner,
    check_min_size,
)
from fedbench.errors import ConfigError
from fedbench.seeding import rng_for

MAX_DRAWS = 1000


def shares(n: int, num_clients: int, params: DirichletParameters,
           rng: np.random.Generator) -> np.ndarray:
    """Client shares q ~ Dir(β), redrawn until the smallest covers ``min_size`` samples."""
    q = np.zeros(num_clients)
    for _ in range(MAX_DRAWS):
        q = rng.dirichlet(np.full(num_clients, params.beta))
        if q.min() * n >= params.min_size:
            return q
    raise ConfigError(f"partition quantity: beta={params.beta!r} over {num_clients} clients "
                     f"gave some client fewer than min_size={params.min_size} samples in each "
                     f"of {MAX_DRAWS} draws (the last: {q.min() * n:.0f}); allowed: a larger "
                     "beta, fewer clients, or a smaller min_size")


def split(labels: np.ndarray, num_clients: int, params: DirichletParameters,
          seed: int) -> list[np.ndarray]:
    rng = rng_for(seed, "partition")
    q = shares(len(labels), num_clients, params, rng)
    bounds = np.cumsum(q)[:-1]
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for c in range(int(labels.max()) + 1):
        samples = rng.permutation(np.flatnonzero(labels == c))
        cuts = np.rint(bounds * len(samples)).astype(np.int64)
        for i, share in enumerate(np.split(samples, cuts)):
            parts[i].append(share)
    return [np.concatenate(p) for p in parts]


PARTITIONER = Partitioner(
    name="quantity",
    parameters=DirichletParameters,
    split=split,
    check=check_min_size("quantity"),
    docs=PartitionDocs(title="quantity skew",
                       source="Li et al., NIID-Bench, ICDE 2022, section III-C (q ~ Dir(β))",
                       short=lambda params: f"q~Dir({params.beta:g})"),
)

"""Distribution-based label imbalance, p_k ~ Dir(β): each label's samples are shared over
the clients in proportions drawn from a symmetric Dirichlet(β).

NIID-Bench's rule (Li et al., ICDE 2022, section III-A): label by label, proportions
p ~ Dir(β·1_N) are drawn, a client that already holds its fair share N_samples / N gets
none of the label (which keeps client sizes from running away), and the label's shuffled
samples are cut at the cumulative proportions. The whole draw is repeated until every
client holds at least ``min_size`` samples. Small β gives each client few labels; as β
grows every client's label distribution approaches the global one (β → ∞ is IID).
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

MAX_DRAWS = 1000  # redraws before giving up on min_size (each is a full partition draw)


def split(labels: np.ndarray, num_clients: int, params: DirichletParameters,
          seed: int) -> list[np.ndarray]:
    rng = rng_for(seed, "partition")
    n = len(labels)
    by_label = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    fair = n / num_clients
    smallest = 0
    for _ in range(MAX_DRAWS):
        parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
        sizes = np.zeros(num_clients, np.int64)
        for samples in by_label:
            samples = rng.permutation(samples)
            p = rng.dirichlet(np.full(num_clients, params.beta))
            p = p * (sizes < fair)
            if not p.sum():  # every share left underflowed to 0 (a tiny β): share evenly
                p = (sizes < fair).astype(np.float64)
            cuts = (np.cumsum(p / p.sum()) * len(samples)).astype(np.int64)[:-1]
            for i, share in enumerate(np.split(samples, cuts)):
                parts[i].append(share)
                sizes[i] += len(share)
        smallest = int(sizes.min())
        if smallest >= params.min_size:
            return [np.concatenate(p) for p in parts]
    raise ConfigError(f"partition dirichlet: beta={params.beta!r} over {num_clients} clients "
                     f"left some client with fewer than min_size={params.min_size} samples in "
                     f"each of {MAX_DRAWS} draws (the last: {smallest}); allowed: a larger "
                     "beta, fewer clients, or a smaller min_size")


PARTITIONER = Partitioner(
    name="dirichlet",
    parameters=DirichletParameters,
    split=split,
    check=check_min_size("dirichlet"),
    docs=PartitionDocs(title="distribution-based label imbalance",
                       source="Li et al., NIID-Bench, ICDE 2022, section III-A "
                       "(p_k ~ Dir(β))",
                       short=lambda params: f"p~Dir({params.beta:g})"),
)

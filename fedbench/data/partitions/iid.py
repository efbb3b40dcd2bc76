"""IID: a seeded shuffle of every sample cut into near-equal client shares (NIID-Bench's
"homogeneous" partition). Unlike McMahan's IID split, no sample is left out: the first
``n mod clients`` clients hold one sample more."""

from __future__ import annotations

import numpy as np

from fedbench.data.partitions.base import PartitionDocs, Partitioner, PartitionParameters
from fedbench.seeding import rng_for


class IIDParams(PartitionParameters):
    pass


def shuffled_shares(num_samples: int, num_clients: int, seed: int) -> list[np.ndarray]:
    """A seeded permutation of the samples in ``num_clients`` near-equal consecutive shares."""
    perm = rng_for(seed, "partition").permutation(num_samples)
    return list(np.array_split(perm, num_clients))



PARTITIONER = Partitioner(
    name="iid",
    parameters=IIDParams,
    split=lambda labels, clients, params, seed: shuffled_shares(len(labels), clients, seed),
    docs=PartitionDocs(title="IID (homogeneous)",
                       source="Li et al., NIID-Bench, ICDE 2022, section III (homogeneous "
                       "partition)", short=lambda params: "IID"),
)

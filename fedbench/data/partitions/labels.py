"""Quantity-based label imbalance, #C = k: each client holds samples of exactly k labels.

NIID-Bench's rule (Li et al., ICDE 2022, section III-A): client i first takes label
i mod K, then k − 1 further distinct labels drawn at random; each label's samples are
shuffled and split evenly over the clients that hold it. With fewer clients than labels
the further labels are drawn among the labels nobody holds yet first, so that every label
is used whenever k × clients ≥ K (which ``check`` requires).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fedbench.data.partitions.base import PartitionDocs, Partitioner, PartitionParameters
from fedbench.seeding import rng_for


class LabelsParams(PartitionParameters):
    k: int = Field(2, ge=1, description="labels per client (#C)")


def check(params: LabelsParams, num_clients: int, num_labels: int, num_samples: int) -> None:
    if params.k > num_labels:
        raise ValueError(f"partition labels: k={params.k} labels per client, but the data has "
                         f"{num_labels} labels; allowed: 1..{num_labels}")
    if params.k * num_clients < num_labels:
        raise ValueError(f"partition labels: k={params.k} labels for each of {num_clients} "
                         f"clients cannot cover the data's {num_labels} labels; allowed: "
                         f"k >= {-(-num_labels // num_clients)} for {num_clients} clients")


def assign_labels(num_clients: int, num_labels: int, k: int,
                  rng: np.random.Generator) -> list[list[int]]:
    """Each client's k distinct labels: i mod K first, then random ones (unheld first)."""
    held = [[i % num_labels] for i in range(num_clients)]
    times = np.bincount([h[0] for h in held], minlength=num_labels)
    for mine in held:
        while len(mine) < k:
            free = [c for c in range(num_labels) if c not in mine]
            unheld = [c for c in free if times[c] == 0]
            pick = int(rng.choice(unheld or free))
            mine.append(pick)
            times[pick] += 1
    return held


def split(labels: np.ndarray, num_clients: int, params: LabelsParams,
          seed: int) -> list[np.ndarray]:
    num_labels = int(labels.max()) + 1
    rng = rng_for(seed, "partition")
    held = assign_labels(num_clients, num_labels, params.k, rng)
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for c in range(num_labels):
        holders = [i for i, mine in enumerate(held) if c in mine]
        if not holders:
            continue
        samples = rng.permutation(np.flatnonzero(labels == c))
        for i, share in zip(holders, np.array_split(samples, len(holders)), strict=True):
            parts[i].append(share)
    return [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]


PARTITIONER = Partitioner(
    name="labels",
    parameters=LabelsParams,
    split=split,
    check=check,
    docs=PartitionDocs(title="quantity-based label imbalance",
                       source="Li et al., NIID-Bench, ICDE 2022, section III-A (#C = k)",
                       short=lambda params: f"#C={params.k}"),
)

"""Client partitions of a labelled dataset: pure functions of (labels, seed).

Each function returns one int64 index array per client. Because a partition
depends on nothing but its arguments, every algorithm of a grid sees the same
clients for a given seed, which makes comparisons between algorithms paired.
"""

from __future__ import annotations

import numpy as np

from fedbench.errors import ConfigError
from fedbench.seeding import rng_for

Partition = list[np.ndarray]


def power_law_max_clients(label_counts: tuple[int, ...] | np.ndarray, labels_per_client: int = 2,
                          min_per_label: int = 5) -> int:
    """The most clients ``power_law`` can split samples with these per-label counts over.

    Every label is held by ``labels_per_client`` groups of ``num_clients / C`` clients, each
    of which first takes ``min_per_label`` of its samples, so a label needs
    ``labels_per_client * min_per_label * num_clients / C`` samples: with fewer, the split
    would run into the next label's samples (and past the end of the data). The largest
    multiple of C that the rarest label allows.
    """
    classes = len(label_counts)
    per_group = labels_per_client * min_per_label  # samples of a label per client group
    return int(min(label_counts)) // per_group * classes


def label_shards_max_clients(num_samples: int, shards_per_client: int = 2) -> int:
    """The most clients ``label_shards`` can deal shards of at least one sample to."""
    return num_samples // shards_per_client


def power_law(
    labels: np.ndarray,
    num_clients: int,
    seed: int,
    labels_per_client: int = 2,
    min_per_label: int = 5,
    sigma: float = 2.0,
) -> Partition:
    """The FedProx power-law split (Li et al. 2020; Flower's fedprox baseline).

    Client ``i`` holds labels ``i mod C`` … ``(i + labels_per_client - 1) mod C``:
    first ``min_per_label`` samples of each, then the remaining samples of every
    label shared out in proportion to ``lognormal(0, sigma)`` weights drawn per
    (label, client group, slot) and normalised per label.
    """
    num_classes = int(labels.max()) + 1
    if num_clients % num_classes:
        raise ConfigError(
            f"federation.num_clients: the power-law split needs a multiple of {num_classes} "
            f"clients, one group per label (got {num_clients})"
        )
    counts = np.bincount(labels, minlength=num_classes)
    most = power_law_max_clients(counts, labels_per_client, min_per_label)
    if not 0 < num_clients <= most:
        raise ConfigError(
            f"federation.num_clients: the power-law split gives each client {min_per_label} "
            f"samples of each of its {labels_per_client} labels, which the rarest label "
            f"({int(counts.min())} samples) allows for at most {most} clients "
            f"(got {num_clients}); allowed: {num_classes}..{most}, a multiple of {num_classes}"
        )
    order = np.argsort(labels, kind="stable")  # indices grouped by label, ascending
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    used = np.zeros(num_classes, dtype=np.int64)
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]

    def take(cls: int, n: int) -> np.ndarray:
        lo = starts[cls] + used[cls]
        used[cls] += n
        return order[lo : lo + n]

    for cid in range(num_clients):
        for slot in range(labels_per_client):
            parts[cid].append(take((cid + slot) % num_classes, min_per_label))

    rng = rng_for(seed, "partition")
    weights = rng.lognormal(
        0.0, sigma, (num_classes, num_clients // num_classes, labels_per_client)
    )
    remaining = counts - used
    shares = remaining[:, None, None] * weights / weights.sum(axis=(1, 2), keepdims=True)
    for cid in range(num_clients):
        for slot in range(labels_per_client):
            cls = (cid + slot) % num_classes
            parts[cid].append(take(cls, int(shares[cls, cid // num_classes, slot])))
    if (used > counts).any():  # cannot happen within the limit above; never duplicate samples
        raise ConfigError("federation.num_clients: the power-law split overran a label")
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def iid(num_samples: int, num_clients: int, seed: int) -> Partition:
    """Equal random shards: ``num_samples // num_clients`` distinct samples each."""
    if not 0 < num_clients <= num_samples:
        raise ConfigError(f"federation.num_clients: the IID split of {num_samples} samples "
                          f"gives each client at least one only for 1..{num_samples} clients "
                          f"(got {num_clients})")
    perm = rng_for(seed, "partition").permutation(num_samples)
    size = num_samples // num_clients
    return [np.sort(perm[i * size : (i + 1) * size]).astype(np.int64) for i in range(num_clients)]


def label_shards(
    labels: np.ndarray, num_clients: int, shards_per_client: int, seed: int
) -> Partition:
    """McMahan et al.'s pathological split: sort by label, cut equal shards, deal them out."""
    most = label_shards_max_clients(len(labels), shards_per_client)
    if not 0 < num_clients <= most:
        raise ConfigError(f"federation.num_clients: {shards_per_client} label shards per client "
                          f"of at least one of {len(labels)} samples allow 1..{most} clients "
                          f"(got {num_clients})")
    order = np.argsort(labels, kind="stable")
    num_shards = num_clients * shards_per_client
    size = len(labels) // num_shards
    shard_ids = rng_for(seed, "partition").permutation(num_shards)
    out = []
    for cid in range(num_clients):
        mine = shard_ids[cid * shards_per_client : (cid + 1) * shards_per_client]
        out.append(np.sort(np.concatenate([order[s * size : (s + 1) * size] for s in mine])))
    return [p.astype(np.int64) for p in out]


def train_val_split(indices: np.ndarray, seed: int, client: int, val_fraction: float = 0.1):
    """Per-client split; validation is the first ``int(n * val_fraction)`` of a seeded shuffle."""
    perm = rng_for(seed, "split", client).permutation(len(indices))
    n_val = int(len(indices) * val_fraction)
    return np.sort(indices[perm[n_val:]]), np.sort(indices[perm[:n_val]])

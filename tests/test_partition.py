"""Client partitions: the flower-baseline power law, IID and label shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fedbench.data import partitioners as partition
from fedbench.data.cache import cached_partition
from fedbench.data.mnist import read_mnist
from fedbench.protocols import get_protocol


@pytest.fixture(scope="module")
def labels(mnist_root: Path) -> np.ndarray:
    return read_mnist(mnist_root)[1]


@pytest.fixture(scope="module")
def power_law(labels: np.ndarray) -> list[np.ndarray]:
    return partition.power_law(labels, 1000, seed=0)


def test_power_law_has_1000_clients_with_exactly_two_labels_each(power_law, labels) -> None:
    assert len(power_law) == 1000
    for cid, idx in enumerate(power_law):
        assert set(np.unique(labels[idx])) == {cid % 10, (cid + 1) % 10}


def test_power_law_never_assigns_a_sample_twice(power_law, labels) -> None:
    flat = np.concatenate(power_law)
    assert len(np.unique(flat)) == len(flat)
    assert flat.min() >= 0 and flat.max() < len(labels)


def test_power_law_gives_each_label_at_least_five_samples(power_law, labels) -> None:
    for cid, idx in enumerate(power_law):
        counts = np.bincount(labels[idx], minlength=10)
        assert counts[cid % 10] >= 5 and counts[(cid + 1) % 10] >= 5


def test_power_law_sizes_are_heavy_tailed(power_law) -> None:
    sizes = np.array([len(p) for p in power_law])
    assert sizes.min() >= 10
    assert sizes.max() > 20 * np.median(sizes)  # a few very large clients
    assert np.mean(sizes) > 1.5 * np.median(sizes)  # right skew


def test_power_law_is_a_function_of_the_seed(labels) -> None:
    a, b = partition.power_law(labels, 100, 7), partition.power_law(labels, 100, 7)
    c = partition.power_law(labels, 100, 8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_iid_gives_equal_distinct_shards() -> None:
    parts = partition.iid(60_000, 100, seed=0)
    assert [len(p) for p in parts] == [600] * 100
    assert len(np.unique(np.concatenate(parts))) == 60_000


def test_label_shards_gives_two_label_sorted_shards_per_client(labels) -> None:
    parts = partition.label_shards(labels, 100, 2, seed=0)
    assert [len(p) for p in parts] == [600] * 100
    assert len(np.unique(np.concatenate(parts))) == 60_000
    # shards are cut from label-sorted data, so only shards crossing a label boundary mix labels
    label_counts = [len(np.unique(labels[p])) for p in parts]
    assert max(label_counts) <= 4
    assert sum(c <= 2 for c in label_counts) >= 90


def test_train_validation_split_is_ninety_ten_and_disjoint() -> None:
    idx = np.arange(100, 200)
    train, val = partition.train_val_split(idx, seed=0, client=3)
    assert (len(train), len(val)) == (90, 10)
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(idx)


def test_partition_cache_round_trips_and_is_reused(tmp_path: Path, labels) -> None:
    protocol = get_protocol("flower-baseline")
    first = cached_partition(tmp_path, protocol.name, protocol.split, labels, 100, 3)
    cached = sorted((tmp_path / "partitions").glob("*.npz"))
    assert [p.name for p in cached] == ["flower-baseline-n100-s3.npz"]
    again = cached_partition(tmp_path, protocol.name, protocol.split, labels, 100, 3)
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))

"""Heterogeneity as a grid axis: the partitioners of fedbench/data/partitions/ (issue 15).

Each partitioner is a pure function of (labels, clients, parameters, seed) with the defining
property of its kind of skew (NIID-Bench, Li et al., ICDE 2022):

- #C = k: every client holds exactly k labels;
- p ~ Dir(β): as β grows, the clients' label distributions approach the global one;
- q ~ Dir(β): client sizes vary, every client keeps the global label distribution;
- x ~ Gau(σ): an IID split whose client i sees noise of standard deviation σ·i/(N−1);
- every partitioner covers every sample at most once.

Bad parameters are refused with the config, before any job starts, with exit code 2.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fedbench.cli import main
from fedbench.config import ConfigError, PartitionConfig, validate_experiment
from fedbench.data import partitions
from fedbench.data.federated import with_noise

REPO = Path(__file__).resolve().parents[1]
NAMES = partitions.names()


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    """6,000 samples of 10 unevenly frequent labels, like a small MNIST."""
    rng = np.random.default_rng(7)
    return rng.choice(10, size=6000, p=np.linspace(0.06, 0.14, 10) / 1.0).astype(np.int64)


def split(name: str, labels: np.ndarray, clients: int = 10, seed: int = 0, **params):
    return partitions.get_partitioner(name)(labels, clients, params, seed)


def label_distribution(labels: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.bincount(labels[idx], minlength=10) / max(len(idx), 1)


def test_the_registry_holds_the_five_kinds_of_skew() -> None:
    assert set(NAMES) == {"iid", "labels", "dirichlet", "quantity", "noise"}


@pytest.mark.parametrize("name", NAMES)
def test_every_partitioner_covers_every_sample_at_most_once(name, labels) -> None:
    parts = split(name, labels)
    flat = np.concatenate(parts)
    assert len(parts) == 10
    assert len(np.unique(flat)) == len(flat)  # no sample twice
    assert flat.min() >= 0 and flat.max() < len(labels)
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)  # sorted indices


@pytest.mark.parametrize("name", NAMES)
def test_a_partition_is_a_function_of_its_seed(name, labels) -> None:
    first, again = split(name, labels, seed=3), split(name, labels, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other = split(name, labels, seed=4)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("k", [1, 2, 3, 10])
@pytest.mark.parametrize("clients", [10, 25])
def test_labels_k_gives_every_client_exactly_k_labels(labels, k, clients) -> None:
    parts = split("labels", labels, clients=clients, k=k)
    for cid, idx in enumerate(parts):
        held = set(np.unique(labels[idx]).tolist())
        assert len(held) == k
        assert cid % 10 in held  # NIID-Bench's rule: label i mod K first
    # with at least as many clients as labels, every sample of every label is used
    assert sum(len(p) for p in parts) == len(labels)


def test_labels_k_with_fewer_clients_than_labels_still_uses_every_label(labels) -> None:
    parts = split("labels", labels, clients=4, k=3)  # 12 slots for 10 labels
    assert set(np.unique(labels[np.concatenate(parts)]).tolist()) == set(range(10))


def test_labels_k_splits_each_label_evenly_over_its_holders(labels) -> None:
    parts = split("labels", labels, clients=10, k=2)
    for c in range(10):
        shares = [int((labels[p] == c).sum()) for p in parts if (labels[p] == c).any()]
        assert max(shares) - min(shares) <= 1


def test_dirichlet_label_distributions_approach_the_global_one_as_beta_grows(labels) -> None:
    overall = label_distribution(labels, np.arange(len(labels)))

    def distance(beta: float) -> float:  # mean total-variation distance over clients and seeds
        return float(np.mean([
            0.5 * np.abs(label_distribution(labels, p) - overall).sum()
            for seed in range(3) for p in split("dirichlet", labels, seed=seed, beta=beta)]))

    distances = [distance(beta) for beta in (0.1, 0.5, 1.0, 10.0, 100.0)]
    assert all(a > b for a, b in itertools.pairwise(distances)), distances
    assert distances[0] > 0.5 and distances[-1] < 0.05


def test_dirichlet_redraws_until_every_client_holds_min_size(labels) -> None:
    parts = split("dirichlet", labels, clients=10, beta=0.1, min_size=100)
    assert min(len(p) for p in parts) >= 100


def test_dirichlet_that_cannot_meet_min_size_says_what_to_change(labels) -> None:
    with pytest.raises(ConfigError, match=r"beta=0\.01 over 500 clients .* allowed: a larger "
                                          r"beta, fewer clients, or a smaller min_size"):
        split("dirichlet", labels, clients=500, beta=0.01, min_size=10)


def test_quantity_skew_keeps_the_global_label_distribution_in_every_client(labels) -> None:
    parts = split("quantity", labels, beta=0.5)
    sizes = np.array([len(p) for p in parts])
    assert sizes.max() > 2 * sizes.min()  # the sizes are skewed ...
    per_label = np.bincount(labels, minlength=10)
    for p in parts:  # ... but each label is cut at the client's share, up to rounding
        share = len(p) / len(labels)
        counts = np.bincount(labels[p], minlength=10)
        assert np.all(np.abs(counts - share * per_label) <= 2)


def test_feature_noise_is_an_iid_split(labels) -> None:
    assert all(np.array_equal(a, b) for a, b in zip(split("noise", labels, sigma=0.1),
                                                   split("iid", labels), strict=True))


def test_feature_noise_grows_with_the_client_index_as_its_schedule_says() -> None:
    found = partitions.get_partitioner("noise")
    params = found.params({"sigma": 0.1})
    assert [found.noise_std(params, i, 10) for i in range(10)] == pytest.approx(
        [0.1 * i / 9 for i in range(10)])
    x = torch.zeros(4000, 784)
    for cid in (0, 3, 9):  # the noise actually added has that variance, and is reproducible
        std = found.noise_std(params, cid, 10)
        noisy = with_noise(x, std, seed=1, stream="noise", cid=cid)
        assert float(noisy.std()) == pytest.approx(std, rel=0.01, abs=1e-9)
        assert torch.equal(noisy, with_noise(x, std, seed=1, stream="noise", cid=cid))


def test_labels_are_read_back_to_the_same_partition() -> None:
    for spec in ({"name": "labels", "params": {"k": 2}}, {"name": "dirichlet", "params": {
            "beta": 0.5}}, {"name": "iid"}, {"name": "noise", "params": {"sigma": 0.25}}):
        config = PartitionConfig.model_validate(spec)
        again = PartitionConfig.from_label(config.label())
        assert again.label() == config.label()
    assert PartitionConfig.model_validate({"name": "dirichlet", "params": {"beta": 0.5}}
                                          ).label() == "dirichlet-beta0.5-min_size10"


# --- bad parameters: refused with the config, exit code 2 --------------------------------


def _config(tmp_path: Path, partition: dict, clients: int = 10) -> Path:
    cfg = yaml.safe_load((REPO / "configs" / "niid-bench-cpu.yaml").read_text())
    cfg["federation"]["num_clients"] = clients
    cfg["federation"]["clients_per_round"] = min(clients, 10)
    cfg["grid"]["partitions"] = [partition]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


BAD = [
    ({"name": "dirichlet", "params": {"beta": 0.0}}, 10,
     "params.beta=0.0 for partition dirichlet: Input should be greater than 0"),
    ({"name": "dirichlet", "params": {"beta": -1}}, 10,
     "params.beta=-1 for partition dirichlet: Input should be greater than 0"),
    ({"name": "quantity", "params": {"beta": 0}}, 10,
     "params.beta=0 for partition quantity: Input should be greater than 0"),
    ({"name": "labels", "params": {"k": 11}}, 10,
     "k=11 labels per client, but the data has 10 labels; allowed: 1..10"),
    ({"name": "labels", "params": {"k": 1}}, 5,
     "k=1 labels for each of 5 clients cannot cover the data's 10 labels; allowed: k >= 2"),
    ({"name": "labels", "params": {"c": 2}}, 10, "params.c=2 for partition labels"),
    ({"name": "skewed"}, 10, "unknown partition 'skewed'; allowed: dirichlet, iid, labels"),
]


@pytest.mark.parametrize(("partition", "clients", "message"), BAD)
def test_fedbench_run_refuses_bad_partition_parameters(tmp_path, capsys, partition, clients,
                                                       message) -> None:
    out = tmp_path / "out"
    code = main(["run", "--config", str(_config(tmp_path, partition, clients)),
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_a_partition_of_generated_clients_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"synthetic-1-1: its data .* cannot be split again"):
        validate_experiment({"protocol": "synthetic-1-1", "federation": {"num_clients": 30},
                             "partition": {"name": "iid"},
                             "grid": {"variants": [{"algorithm": "fedavg"}],
                                      "stragglers": [0.0], "seeds": [0]}})


def test_snakemake_dry_run_refuses_them_before_any_job(tmp_path) -> None:
    from tests.test_workflow import output_of, snakemake

    for partition, clients, message in (BAD[0], BAD[4]):
        proc = snakemake(tmp_path, "--configfile", str(_config(tmp_path, partition, clients)),
                         "--dry-run")
        assert proc.returncode == 2, output_of(proc)
        assert message in proc.stderr and "Traceback" not in output_of(proc)
        assert not (tmp_path / "results").exists()


# --- the cache: each partition its own file, checked on load ----------------------------


def test_a_partition_is_cached_in_its_own_file_and_rebuilt_when_damaged(
        tmp_path, mnist_root, capsys) -> None:
    from fedbench.data import federated
    from fedbench.protocols import get_protocol

    root = tmp_path / "root"
    root.mkdir()
    (root / "MNIST").symlink_to(Path(mnist_root).resolve() / "MNIST")
    protocol = get_protocol("niid-bench-mnist")
    label = "labels-k2"
    first = federated.load_federated(root, protocol, 10, 5, partition=label)
    cache = root / "partitions" / f"niid-bench-mnist-{label}-n10-s5.npz"
    assert sorted(p.name for p in (root / "partitions").glob("*.npz")) == [cache.name]
    own = federated.load_federated(root, protocol, 10, 5)  # the protocol's own split: another
    assert len(list((root / "partitions").glob("*.npz"))) == 2
    assert not np.array_equal(first.client_train[0], own.client_train[0])
    cache.write_bytes(cache.read_bytes()[:100])  # truncated
    capsys.readouterr()
    again = federated.load_federated(root, protocol, 10, 5, partition=label)
    err = capsys.readouterr().err
    assert f"partition cache {cache} is unusable" in err and "rebuilding it" in err
    assert all(np.array_equal(first.client_train[c], again.client_train[c]) for c in range(10))

"""The FedProx paper's protocols: Synthetic(α, β), the 70k MNIST partition, federated
evaluation, fixed-count stragglers, and the configs that select them."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
import yaml

from fedbench.apps.evaluation import evaluate_global
from fedbench.config import load_experiment, validate_experiment, workflow_schema
from fedbench.data import federated, synthetic
from fedbench.data import partitioners as partition
from fedbench.errors import ConfigError
from fedbench.protocols import get_protocol, registry
from fedbench.protocols.fedprox_paper import fit_standardise
from tests.conftest import REPO, tiny_experiment

PAPER = get_protocol("paper")
SYNTHETIC = tuple(p for p in registry().values() if p.data == "synthetic")

# --------------------------------------------------------------------------- Synthetic(α, β)


@pytest.mark.parametrize("protocol", SYNTHETIC, ids=lambda p: p.name)
def test_synthetic_has_30_heavy_tailed_devices_with_labels_0_to_9(protocol) -> None:
    alpha, beta, iid = protocol.synthetic
    data = synthetic.generate(alpha, beta, iid, 30, seed=0)
    sizes = np.array([len(p) for p in data.parts])
    assert len(data.parts) == 30 and sizes.min() >= 50
    assert sizes.max() > 5 * np.median(sizes)  # lognormal(4, 2): a few devices hold most data
    assert data.x.shape == (sizes.sum(), 60) and data.x.dtype == np.float32
    assert data.y.min() >= 0 and data.y.max() <= 9
    flat = np.concatenate(data.parts)
    assert np.array_equal(flat, np.arange(len(data.y)))  # every sample on exactly one device


def test_synthetic_is_a_function_of_the_seed() -> None:
    a = synthetic.generate(1.0, 1.0, False, 30, seed=3)
    b = synthetic.generate(1.0, 1.0, False, 30, seed=3)
    c = synthetic.generate(1.0, 1.0, False, 30, seed=4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.x.shape != c.x.shape or not np.array_equal(a.x, c.x)


def test_synthetic_iid_shares_one_model_and_non_iid_does_not() -> None:
    iid = synthetic.generate(0.0, 0.0, True, 30, seed=0)
    assert all(np.array_equal(w, iid.weights[0]) for w in iid.weights)
    assert all(np.array_equal(b, iid.biases[0]) for b in iid.biases)
    # labels are the argmax of that one shared linear model on every device
    logits = iid.x.astype(np.float64) @ iid.weights[0] + iid.biases[0]
    assert (logits.argmax(1) == iid.y).mean() > 0.999  # float32 storage of x may flip ties
    het = synthetic.generate(0.0, 0.0, False, 30, seed=0)
    assert not np.array_equal(het.weights[0], het.weights[1])


# --------------------------------------------------------------------------- the paper's MNIST


@pytest.fixture(scope="module")
def mnist_all(mnist_root: Path):
    from fedbench.data.mnist import read_mnist

    tr_x, tr_y, te_x, te_y = read_mnist(mnist_root)
    return np.concatenate([tr_x, te_x]), np.concatenate([tr_y, te_y])


def test_paper_partition_spreads_70k_images_over_1000_devices_two_digits_each(mnist_all) -> None:
    _images, labels = mnist_all
    assert len(labels) == 70_000
    parts = PAPER.split(labels, 1000, 0)
    assert len(parts) == 1000
    flat = np.concatenate(parts)
    assert len(np.unique(flat)) == len(flat) and flat.max() < 70_000
    assert len(flat) > 68_000  # the paper: 69,035 (the power law's shares are truncated)
    assert flat.max() >= 60_000  # the test split's images are used too
    for cid, idx in enumerate(parts):
        assert set(np.unique(labels[idx])) == {cid % 10, (cid + 1) % 10}
    for cid in (0, 17, 999):
        train, test = partition.train_val_split(parts[cid], 0, cid, PAPER.val_fraction)
        n = len(parts[cid])
        assert len(test) == int(n * 0.1) and len(train) == n - len(test)
        assert not set(train) & set(test)


def test_paper_standardisation_uses_whole_set_statistics(mnist_all) -> None:
    images, _ = mnist_all
    standardise = fit_standardise(images)
    flat = images.reshape(len(images), -1).astype(np.float64)
    np.testing.assert_allclose(standardise.mean, flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(standardise.scale, flat.std(0) + 0.001, rtol=1e-5)
    some = standardise(images[:100])
    expected = (flat[:100] - flat.mean(0)) / (flat.std(0) + 0.001)
    np.testing.assert_allclose(some, expected, rtol=1e-4, atol=1e-4)
    # fitted on a subset, the statistics differ: the protocol fits on all 70k
    assert not np.allclose(fit_standardise(images[:1000]).mean, standardise.mean)


# --------------------------------------------------------------------------- federated evaluation


def test_federated_evaluation_is_sum_correct_over_sum_n() -> None:
    gen = np.random.default_rng(0)
    sizes = [3, 7, 12, 1]
    pool = gen.normal(size=(sum(sizes) * 2, 5)).astype(np.float32)
    labels = gen.integers(0, 10, len(pool))
    bounds = np.cumsum([0, *[2 * s for s in sizes]])
    parts = [np.arange(lo, hi) for lo, hi in itertools.pairwise(bounds)]
    protocol = get_protocol("synthetic-1-1")
    data = federated._with_held_out(pool, labels, parts, federated._identity, protocol, seed=0,
                                    device="cpu")
    params = {"fc.weight": torch.from_numpy(gen.normal(size=(10, 5)).astype(np.float32)),
              "fc.bias": torch.from_numpy(gen.normal(size=10).astype(np.float32))}
    loss, acc, train_loss = evaluate_global("logreg", None, params, data)
    # directly: per device, its held-out split and its training split
    correct = total = 0
    train_sum, train_n = 0.0, 0
    for cid, idx in enumerate(parts):
        train, test = partition.train_val_split(idx, 0, cid, protocol.val_fraction)
        w, b = params["fc.weight"].numpy().astype(np.float64), params["fc.bias"].numpy()
        logits = pool[test].astype(np.float64) @ w.T + b
        correct += int((logits.argmax(1) == labels[test]).sum())
        total += len(test)
        z = pool[train].astype(np.float64) @ w.T + b
        logp = z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) - z.max(
            1, keepdims=True)
        train_sum += float(-logp[np.arange(len(train)), labels[train]].sum())
        train_n += len(train)
    assert total == sum(int(2 * s * 0.1) for s in sizes)
    assert acc == pytest.approx(correct / total, abs=1e-12)
    assert train_loss == pytest.approx(train_sum / train_n, rel=1e-5)
    assert np.isfinite(loss)


def test_centralized_protocols_have_no_global_training_loss() -> None:
    assert get_protocol("flower-baseline").evaluation == "centralized"
    assert {p.evaluation for p in (PAPER, *SYNTHETIC)} == {"federated"}
    assert {p.straggler_rule for p in (PAPER, *SYNTHETIC)} == {"fixed-count"}


# --------------------------------------------------------------------------- a run


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("algorithm", ["fedavg", "fedprox"])
def test_paper_protocol_run_has_exactly_round_k_sf_stragglers(
    algorithm: str, tmp_path: Path, mnist_root: Path
) -> None:
    from fedbench.cli import main

    cfg = tiny_experiment(mnist_root, protocol="paper",
                          federation={"num_clients": 20, "clients_per_round": 10, "rounds": 3},
                          training={"local_epochs": 2, "weight_decay": 0.0})
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / algorithm
    extra = ["--mu", "1"] if algorithm == "fedprox" else []
    code = main(["run", "--config", str(path), "--out", str(out), "--quiet", "--algorithm",
                 algorithm, *extra, "--stragglers", "0.3", "--seed", "0"])
    assert code == 0
    rows = _rows(out / "rounds.csv")
    assert [int(r["round"]) for r in rows] == [0, 1, 2, 3]
    assert all(int(r["n_stragglers"]) == 3 for r in rows[1:])
    assert all(int(r["dropped"]) == (3 if algorithm == "fedavg" else 0) for r in rows[1:])
    for r in rows:  # federated evaluation: the global training loss is there every round
        assert np.isfinite(float(r["global_train_loss"]))
    assert float(rows[-1]["global_train_loss"]) < float(rows[0]["global_train_loss"])


def test_synthetic_protocol_runs_a_60_feature_logistic_regression(
    tmp_path: Path, mnist_root: Path
) -> None:
    from fedbench.cli import main

    cfg = tiny_experiment(mnist_root, protocol="synthetic-0.5-0.5",
                          federation={"num_clients": 30, "clients_per_round": 10, "rounds": 2},
                          training={"local_epochs": 2, "lr": 0.01, "weight_decay": 0.0})
    path = tmp_path / "syn.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = main(["run", "--config", str(path), "--out", str(tmp_path / "s"), "--quiet",
                 "--algorithm", "fedprox", "--mu", "1", "--stragglers", "0.5"])
    assert code == 0
    rows = _rows(tmp_path / "s" / "rounds.csv")
    assert all(int(r["n_stragglers"]) == 5 for r in rows[1:])
    assert float(rows[-1]["global_train_loss"]) < float(rows[0]["global_train_loss"])


# --------------------------------------------------------------------------- configs


@pytest.fixture(scope="module")
def schema() -> dict:
    """The workflow's schema as snakemake validates against it: the registries' names in."""
    template = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    return workflow_schema(template)


@pytest.mark.parametrize("name", ["paper.yaml", "synthetic.yaml"])
def test_paper_configs_validate_against_both_schemas(name: str, schema: dict) -> None:
    data = yaml.safe_load((REPO / "configs" / name).read_text())
    jsonschema.validate(data, schema)
    experiment = load_experiment(REPO / "configs" / name)
    assert experiment.training.weight_decay == 0.0
    for protocol in experiment.protocols():
        assert protocol in registry()


def test_synthetic_config_has_the_four_datasets_as_a_grid_axis() -> None:
    experiment = load_experiment(REPO / "configs" / "synthetic.yaml")
    assert experiment.protocols() == sorted(p.name for p in SYNTHETIC)
    cell = experiment.cell("fedprox", 1.0, 0.9, 0, protocol="synthetic-iid")
    assert cell.protocol == "synthetic-iid"


def test_unknown_protocols_and_mnist_models_on_synthetic_data_are_refused(schema: dict) -> None:
    base = {"grid": {"variants": [{"algorithm": "fedavg"}], "stragglers": [0.0], "seeds": [0]}}
    with pytest.raises(ConfigError, match="protocol"):
        validate_experiment({**base, "protocol": "fedprox-mnist"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**base, "protocol": "fedprox-mnist"}, schema)
    bad_grid = {**base["grid"], "protocols": ["synthetic-2-2"]}
    with pytest.raises(ConfigError, match="protocols"):
        validate_experiment({"grid": bad_grid})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"grid": bad_grid}, schema)
    with pytest.raises(ConfigError, match="logreg"):
        validate_experiment({**base, "protocol": "synthetic-1-1", "training": {"model": "cnn"}})


def test_workflow_plans_the_synthetic_grid_with_a_protocol_axis(tmp_path: Path) -> None:
    from tests.test_workflow import job_counts, output_of, snakemake

    proc = snakemake(tmp_path, "--configfile", str(REPO / "configs" / "synthetic.yaml"),
                     "--dry-run", "--printshellcmds")
    assert proc.returncode == 0, output_of(proc)
    counts = job_counts(proc)
    assert counts["simulate"] == 4 * 3 * 3 * 5 and counts["report"] == 1
    text = output_of(proc)
    for protocol in ("synthetic-iid", "synthetic-0-0", "synthetic-0.5-0.5", "synthetic-1-1"):
        assert f"--protocol {protocol} " in text
        assert f"results/fedprox-synthetic/{protocol}/fedprox-mu1.0-sf0.9/seed4" in text
    assert "figures/training_loss.pdf" in text

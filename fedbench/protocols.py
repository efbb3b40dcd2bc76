"""Each published protocol's rules, in one place.

A protocol fixes what a paper fixed: which data (the MNIST train split, all 70k
MNIST images, or a generated Synthetic(α, β) federation), how features are
preprocessed, how the data is split over clients, how stragglers are drawn and
how the model is evaluated. Code elsewhere asks the protocol; it never branches
on its name.

Evaluation modes:

- ``centralized``: the global model on the 10,000 MNIST test images (Flower's
  baseline);
- ``federated``: test accuracy = Σ correct / Σ n over every client's held-out
  split, and the training loss over every client's training data (the FedProx
  paper's metrics). Both are computed server-side in one batched pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fedbench import partition

Preprocess = Callable[[np.ndarray], np.ndarray]  # uint8 (n, 28, 28) -> float32 (n, 784)


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str
    # where the samples come from: MNIST's 60k train split, all 70k MNIST images, or generated
    data: Literal["mnist-train", "mnist-all", "synthetic"]
    input_dim: int
    # a fixed per-image function, or None when the preprocessing is fitted on the whole pool
    preprocess: Preprocess | None
    # (whole pool of uint8 images) -> the preprocessing to apply; None: ``preprocess`` as is
    fit_preprocess: Callable[[np.ndarray], Preprocess] | None
    split: Callable[[np.ndarray, int, int], partition.Partition] | None  # (labels, clients, seed)
    val_fraction: float  # per-client hold-out (the federated test split, or unused)
    straggler_rule: Literal["bernoulli", "fixed-count"]
    evaluation: Literal["centralized", "federated"]
    # Synthetic(α, β): (alpha, beta, iid); None for MNIST protocols
    synthetic: tuple[float, float, bool] | None = None
    description: str = ""  # one line for the report: data, split, evaluation
    # the split's constraint on federation.num_clients (the power law: one group per label),
    # checked with the config, before any job starts
    clients_multiple_of: int = 1

    def preprocessor(self, pool: np.ndarray) -> Preprocess:
        """The preprocessing of this protocol, fitted on ``pool`` where the protocol says so."""
        if self.fit_preprocess is not None:
            return self.fit_preprocess(pool)
        assert self.preprocess is not None
        return self.preprocess


def _flower_normalise(x: np.ndarray) -> np.ndarray:
    # torchvision ToTensor() then Normalize((0.1307,), (0.3081,)), as Flower's baseline does
    flat = x.reshape(x.shape[0], -1).astype(np.float32) / 255.0
    return (flat - np.float32(0.1307)) / np.float32(0.3081)


def fit_standardise(pool: np.ndarray) -> Preprocess:
    """The FedProx paper's per-pixel standardisation, statistics over the whole ``pool``.

    ``generate_niid.py``: ``mu = mean(data, 0)``, ``sigma = std(data, 0)`` over all
    70,000 images (raw 0..255 values), then ``(x - mu) / (sigma + 0.001)``.
    Statistics are computed in float64 and applied in float32.
    """
    flat = pool.reshape(pool.shape[0], -1)
    mean = flat.mean(axis=0, dtype=np.float64)
    squares = np.zeros(flat.shape[1], np.float64)
    for lo in range(0, flat.shape[0], 10_000):  # two-pass variance, in chunks (memory)
        squares += ((flat[lo : lo + 10_000] - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / flat.shape[0])
    mean32, scale32 = mean.astype(np.float32), (std + 0.001).astype(np.float32)

    def standardise(images: np.ndarray) -> np.ndarray:
        rows = images.reshape(images.shape[0], -1).astype(np.float32)
        return (rows - mean32) / scale32

    standardise.mean = mean32  # type: ignore[attr-defined]
    standardise.scale = scale32  # type: ignore[attr-defined]
    return standardise


def _power_law(labels: np.ndarray, clients: int, seed: int) -> partition.Partition:
    return partition.power_law(labels, clients, seed)


FLOWER_BASELINE = Protocol(
    clients_multiple_of=10,  # MNIST's 10 labels
    name="flower-baseline",
    source="Flower baselines/fedprox (MNIST): PROTOCOLS.md section 1",
    data="mnist-train",
    input_dim=784,
    preprocess=_flower_normalise,
    fit_preprocess=None,
    split=_power_law,
    val_fraction=0.1,
    straggler_rule="bernoulli",
    evaluation="centralized",
    description="MNIST train split (60,000), power law over clients, Bernoulli stragglers, "
    "centralized evaluation on the 10,000 MNIST test images",
)

PAPER = Protocol(
    clients_multiple_of=10,  # MNIST's 10 labels
    name="paper",
    source="Li et al., Federated Optimization in Heterogeneous Networks (MLSys 2020), "
    "section 5 and litian96/FedProx: PROTOCOLS.md section 2",
    data="mnist-all",
    input_dim=784,
    preprocess=None,
    fit_preprocess=fit_standardise,
    split=_power_law,
    val_fraction=0.1,
    straggler_rule="fixed-count",
    evaluation="federated",
    description="all 70,000 MNIST images standardised per pixel, power law over devices, "
    "per-device 90/10 train/test split, exactly round(K·sf) stragglers per round, federated "
    "evaluation (Σ correct / Σ n over every device's test split; training loss over every "
    "device's training data)",
)


def _synthetic(name: str, alpha: float, beta: float, iid: bool) -> Protocol:
    label = "IID" if iid else f"({alpha:g}, {beta:g})"
    return Protocol(
        name=name,
        source="Li et al. (MLSys 2020), Synthetic datasets, data/synthetic_*/generate_synthetic.py"
        ": PROTOCOLS.md section 2",
        data="synthetic",
        input_dim=60,
        preprocess=None,
        fit_preprocess=None,
        split=None,
        val_fraction=0.1,
        straggler_rule="fixed-count",
        evaluation="federated",
        synthetic=(alpha, beta, iid),
        description=f"Synthetic{label} generated per seed, 60 features, 10 classes, per-device "
        "90/10 split, exactly round(K·sf) stragglers per round, federated evaluation",
    )


SYNTHETIC = (
    _synthetic("synthetic-iid", 0.0, 0.0, True),
    _synthetic("synthetic-0-0", 0.0, 0.0, False),
    _synthetic("synthetic-0.5-0.5", 0.5, 0.5, False),
    _synthetic("synthetic-1-1", 1.0, 1.0, False),
)

def _mcmahan(name: str, split, text: str) -> Protocol:
    return Protocol(
        name=name,
        source="McMahan et al., Communication-Efficient Learning of Deep Networks from "
        "Decentralized Data (AISTATS 2017), section 3: PROTOCOLS.md section 3",
        data="mnist-train",
        input_dim=784,
        preprocess=_flower_normalise,
        fit_preprocess=None,
        split=split,
        val_fraction=0.0,  # each client trains on all of its samples
        straggler_rule="bernoulli",  # the grid runs without stragglers (rate 0)
        evaluation="centralized",
        description=f"MNIST train split (60,000) over 100 clients, {text}; centralized "
        "evaluation on the 10,000 MNIST test images",
    )


MCMAHAN = (
    _mcmahan("mcmahan-iid", lambda labels, clients, seed: partition.iid(len(labels), clients, seed),
             "IID: 600 random samples each"),
    _mcmahan("mcmahan-noniid",
             lambda labels, clients, seed: partition.label_shards(labels, clients, 2, seed),
             "pathological non-IID: 200 label-sorted shards of 300, two per client"),
)

PROTOCOLS: dict[str, Protocol] = {
    p.name: p for p in (FLOWER_BASELINE, PAPER, *SYNTHETIC, *MCMAHAN)
}
PROTOCOL_NAMES: tuple[str, ...] = tuple(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}") from None

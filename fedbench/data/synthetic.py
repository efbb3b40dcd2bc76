"""Synthetic(α, β): the FedProx paper's generated federated datasets (no download).

Li et al. (MLSys 2020) §5.1 and their ``data/synthetic_*/generate_synthetic.py``
(PROTOCOLS.md §2). Device *k* has n_k = int(lognormal(4, 2)) + 50 samples;
u_k ~ N(0, α) and W_k ~ N(u_k, 1) (60×10), b_k ~ N(u_k, 1) (10); B_k ~ N(0, β)
and v_k[j] ~ N(B_k, 1); x ~ N(v_k, Σ) with Σ = diag(j^-1.2), j = 1..60;
y = argmax(softmax(x W_k + b_k)). The second argument of N is a standard
deviation, as in the reference code. The IID variant shares one W, b ~ N(0, 1)
over all devices and has v_k = 0.

The draw order follows the reference code, but every draw comes from one
generator seeded by (seed, "synthetic"), so a dataset is a pure function of
(α, β, iid, devices, seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedbench.data.partitioners import Partition
from fedbench.seeding import rng_for

DIMENSION = 60
NUM_CLASSES = 10


@dataclass(frozen=True)
class SyntheticData:
    x: np.ndarray  # float32 (N, dimension), devices one after the other
    y: np.ndarray  # int64 (N,)
    parts: Partition  # each device's (contiguous) indices
    weights: list[np.ndarray]  # each device's W_k (dimension, classes)
    biases: list[np.ndarray]  # each device's b_k (classes,)


def generate(
    alpha: float,
    beta: float,
    iid: bool,
    num_devices: int,
    seed: int,
    dimension: int = DIMENSION,
    num_classes: int = NUM_CLASSES,
) -> SyntheticData:
    """The devices' samples, labels, index ranges and generating models."""
    rng = rng_for(seed, "synthetic")
    sizes = rng.lognormal(4, 2, num_devices).astype(int) + 50
    mean_w = rng.normal(0, alpha, num_devices)
    mean_b = mean_w
    big_b = rng.normal(0, beta, num_devices)
    std_x = np.power(np.arange(1, dimension + 1, dtype=np.float64), -1.2) ** 0.5
    if iid:
        mean_x = np.zeros((num_devices, dimension))
        w_global = rng.normal(0, 1, (dimension, num_classes))
        b_global = rng.normal(0, 1, num_classes)
    else:
        mean_x = np.stack([rng.normal(big_b[k], 1, dimension) for k in range(num_devices)])
    xs, ys, parts, ws, bs = [], [], [], [], []
    start = 0
    for k in range(num_devices):
        if iid:
            w, b = w_global, b_global
        else:
            w = rng.normal(mean_w[k], 1, (dimension, num_classes))
            b = rng.normal(mean_b[k], 1, num_classes)
        x = mean_x[k] + rng.standard_normal((int(sizes[k]), dimension)) * std_x
        y = np.argmax(x @ w + b, axis=1)  # softmax is monotone: argmax of the logits
        xs.append(x.astype(np.float32))
        ys.append(y.astype(np.int64))
        parts.append(np.arange(start, start + len(y), dtype=np.int64))
        ws.append(w)
        bs.append(b)
        start += len(y)
    return SyntheticData(np.concatenate(xs), np.concatenate(ys), parts, ws, bs)

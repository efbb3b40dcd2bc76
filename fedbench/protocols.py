"""Each published protocol's rules, in one place.

A protocol fixes what a paper fixed: how pixels are preprocessed, how the data
is split over clients, how stragglers are drawn and how the model is
evaluated. Code elsewhere asks the protocol; it never branches on its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fedbench import partition


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str
    preprocess: Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) -> float32 (N, 784)
    split: Callable[[np.ndarray, int, int], partition.Partition]  # (labels, clients, seed)
    val_fraction: float  # per-client hold-out, unused for training
    straggler_rule: Literal["bernoulli", "fixed-count"]
    evaluation: Literal["centralized"]


def _flower_normalise(x: np.ndarray) -> np.ndarray:
    # torchvision ToTensor() then Normalize((0.1307,), (0.3081,)), as Flower's baseline does
    flat = x.reshape(x.shape[0], -1).astype(np.float32) / 255.0
    return (flat - np.float32(0.1307)) / np.float32(0.3081)


FLOWER_BASELINE = Protocol(
    name="flower-baseline",
    source="Flower baselines/fedprox (MNIST): PROTOCOLS.md section 1",
    preprocess=_flower_normalise,
    split=lambda labels, clients, seed: partition.power_law(labels, clients, seed),
    val_fraction=0.1,
    straggler_rule="bernoulli",
    evaluation="centralized",
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (FLOWER_BASELINE,)}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}") from None

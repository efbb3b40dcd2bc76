"""Which clients train in a round, which of them straggle, and how long they train.

A pure function of (seed, round): Flower's strategies sample node ids with the
unseeded ``random.sample``, and node ids themselves are random under the
Simulation Engine, so sampling *partitions* here is what makes a cell
reproducible across runs and backends, and paired across algorithms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from fedbench.seeding import rng_for


@dataclass(frozen=True)
class ClientTask:
    partition: int
    epochs: int
    straggler: bool


def sample_clients(seed: int, server_round: int, num_clients: int, per_round: int) -> np.ndarray:
    """``per_round`` distinct client ids, uniform without replacement, sorted."""
    rng = rng_for(seed, "sample", server_round)
    return np.sort(rng.choice(num_clients, size=per_round, replace=False))


def plan_round(
    seed: int,
    server_round: int,
    num_clients: int,
    per_round: int,
    local_epochs: int,
    straggler_rate: float,
    rule: Literal["bernoulli", "fixed-count"] = "bernoulli",
) -> list[ClientTask]:
    """The round's tasks. A straggler trains uniform 1..E-1 epochs (1 when E = 1).

    ``bernoulli``: each sampled client straggles independently with the given
    probability (Flower's baseline). ``fixed-count``: exactly
    ``round(per_round * rate)`` of them do (the FedProx paper's code).
    """
    clients = sample_clients(seed, server_round, num_clients, per_round)
    rng = rng_for(seed, "stragglers", server_round)
    if rule == "bernoulli":
        flags = rng.random(per_round) < straggler_rate
    else:
        flags = np.zeros(per_round, dtype=bool)
        flags[rng.choice(per_round, size=round(per_round * straggler_rate), replace=False)] = True
    short = (
        rng.integers(1, local_epochs, size=per_round)
        if local_epochs > 1
        else np.ones(per_round, int)
    )
    return [
        ClientTask(int(c), int(short[i]) if flags[i] else local_epochs, bool(flags[i]))
        for i, c in enumerate(clients)
    ]

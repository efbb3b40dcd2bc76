"""FedAvgM (Hsu, Qi and Brown, Measuring the Effects of Non-Identical Data Distribution for
Federated Visual Classification, arXiv:1909.06335, 2019, section 3).

The server treats the round's averaged client change as a gradient and applies momentum:
Δ_t = w_t − Σ_k (n_k / n) w_k^{t+1},  v ← β v + Δ_t,  w_{t+1} = w_t − η v
(η the server learning rate, β the server momentum). Flower's ``FedAvgM`` implements exactly
this; with β = 0 and η = 1 it returns the plain weighted average, so the strategy is FedAvg
bit for bit. Stragglers' partial work is aggregated.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvgM
from pydantic import Field

from fedbench.algorithms.base import (
    Algorithm,
    AlgorithmDocs,
    Hyperparameters,
    ReproducibleRounds,
)
from fedbench.fl import wire


class FedAvgMParams(Hyperparameters):
    # η/(1 − β) is the effective step (Hsu et al.): 0.1 with β = 0.9 moves as far as FedAvg
    server_lr: float = Field(0.1, gt=0, description="η, the server learning rate")
    server_momentum: float = Field(0.9, ge=0, lt=1, description="β, the server momentum")


class ServerMomentumFedAvg(ReproducibleRounds, FedAvgM):
    """Flower's FedAvgM on the kept (sorted) replies; stragglers' partial work kept."""

    drop_stragglers = False

    def __init__(self, template: wire.TrainInstruction, *, per_round: int,
                 straggler_rate: float, straggler_rule: str = "bernoulli", mu: float = 0.0,
                 fail_prob: float = 0.0, params: FedAvgMParams | None = None) -> None:
        params = params or FedAvgMParams()
        FedAvgM.__init__(self, fraction_train=1.0, fraction_evaluate=0.0,
                         min_train_nodes=per_round, min_available_nodes=per_round,
                         server_learning_rate=params.server_lr,
                         server_momentum=params.server_momentum)
        self._setup(template, per_round, straggler_rate, straggler_rule, fail_prob)

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid):
        if self.current_arrays is None:  # what FedAvgM.configure_train does
            self.current_arrays = arrays
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        return FedAvgM.aggregate_train(self, server_round, replies)

    def state_arrays(self) -> dict[str, np.ndarray]:
        if self.momentum_vector is None:
            return {}
        return {f"momentum/{i}": v for i, v in enumerate(self.momentum_vector)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if arrays:
            self.momentum_vector = [arrays[f"momentum/{i}"] for i in range(len(arrays))]

ALGORITHM = Algorithm(
    name="fedavgm",
    strategy=ServerMomentumFedAvg,
    uses_mu=False,
    hyperparameters=FedAvgMParams,
    docs=AlgorithmDocs(
        title="FedAvgM",
        source="Hsu, Qi and Brown, arXiv:1909.06335 (2019), section 3: server momentum "
        "v ← βv + Δ, w ← w − ηv",
    ),
)

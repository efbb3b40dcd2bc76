"""FedAdam (Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2).

v_t = β₂ v_{t−1} + (1 − β₂) Δ_t², x_{t+1} = x_t + η m_t / (√v_t + τ). Flower's ``FedAdam``
multiplies η by Adam's bias correction √(1 − β₂^{t+1}) / (1 − β₁^{t+1}), which Algorithm 2
does not have (and which, with v_{−1} = τ², would only rescale the early rounds' steps), so
the update here is the paper's: Flower computes Δ_t and m_t (``FedOpt._compute_deltat_and_mt``)
and this module applies v_t and the step. The moments start at m = 0, v = τ².
"""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import FedAdam, FedAvg

from fedbench.algorithms._adaptive import AdaptiveParams, AdaptiveServer
from fedbench.algorithms.base import Algorithm, AlgorithmDocs


class ReproducibleFedAdam(AdaptiveServer, FedAdam):
    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        averaged, metrics = FedAvg.aggregate_train(self, server_round, replies)
        self.initial_v()
        delta, m_t, _ = self._compute_deltat_and_mt(averaged)
        self.v_t = {k: self.beta_2 * v + (1 - self.beta_2) * delta[k] ** 2
                    for k, v in self.v_t.items()}
        updated = {k: x + self.eta * m_t[k] / (np.sqrt(self.v_t[k]) + self.tau)
                   for k, x in self.current_arrays.items()}
        return ArrayRecord({k: Array(np.asarray(v)) for k, v in updated.items()}), metrics


ALGORITHM = Algorithm(
    name="fedadam",
    strategy=ReproducibleFedAdam,
    uses_mu=False,
    hyperparameters=AdaptiveParams,
    docs=AlgorithmDocs(
        title="FedAdam",
        source="Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2 (Adam, "
        "without bias correction)",
    ),
)

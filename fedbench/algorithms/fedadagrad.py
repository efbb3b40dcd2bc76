"""FedAdagrad (Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2).

v_t = v_{t−1} + Δ_t²: the second moment accumulates every pseudo-gradient, so the server's
step η m_t / (√v_t + τ) shrinks over the run. Flower's ``FedAdagrad`` computes exactly this;
the moments start at m = 0 and v = τ² (``fedbench.algorithms._adaptive``). β₂ is not used.
"""

from __future__ import annotations

from flwr.app import ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import FedAdagrad

from fedbench.algorithms._adaptive import AdaptiveParams, AdaptiveServer
from fedbench.algorithms.base import Algorithm, AlgorithmDocs


class ReproducibleFedAdagrad(AdaptiveServer, FedAdagrad):
    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        self.initial_v()
        return FedAdagrad.aggregate_train(self, server_round, replies)


ALGORITHM = Algorithm(
    name="fedadagrad",
    strategy=ReproducibleFedAdagrad,
    uses_mu=False,
    hyperparameters=AdaptiveParams,
    docs=AlgorithmDocs(
        title="FedAdagrad",
        source="Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2 "
        "(Adagrad)",
    ),
)

"""FedYogi (Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2).

v_t = v_{t−1} − (1 − β₂) Δ_t² sign(v_{t−1} − Δ_t²): the second moment moves toward Δ_t²
additively (Yogi), so it grows slowly after a large pseudo-gradient instead of jumping as
Adam's does. Flower's ``FedYogi`` computes exactly this; the moments start at m = 0 and
v = τ² (``fedbench.algorithms._adaptive``).
"""

from __future__ import annotations

from flwr.app import ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import FedYogi

from fedbench.algorithms._adaptive import AdaptiveParams, AdaptiveServer
from fedbench.algorithms.base import Algorithm, AlgorithmDocs


class ReproducibleFedYogi(AdaptiveServer, FedYogi):
    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        self.initial_v()
        return FedYogi.aggregate_train(self, server_round, replies)


ALGORITHM = Algorithm(
    name="fedyogi",
    strategy=ReproducibleFedYogi,
    uses_mu=False,
    hyperparameters=AdaptiveParams,
    docs=AlgorithmDocs(
        title="FedYogi",
        source="Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2 (Yogi)",
    ),
)

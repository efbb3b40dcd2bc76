"""FedAvg (McMahan et al., AISTATS 2017, Algorithm 1) as the FedProx experiments run it.

The server averages the clients' models weighted by their number of examples,
w ← Σ_k (n_k / n) w_k (McMahan et al., Algorithm 1). Under systems heterogeneity the
FedProx paper's FedAvg (Li et al., MLSys 2020, section 5.2) *drops* the stragglers:
their updates are discarded, and a round whose clients all straggled keeps the
global model. Stragglers are told so and reply without training (their work would
be thrown away). FedAvg is the baseline every other algorithm is paired against.
"""

from __future__ import annotations

from flwr.serverapp.strategy import FedAvg

from fedbench.algorithms.base import (
    Algorithm,
    AlgorithmDocs,
    Hyperparameters,
    ReproducibleRounds,
)
from fedbench.fl import wire


class StragglerDroppingFedAvg(ReproducibleRounds, FedAvg):
    """Flower's FedAvg, stragglers' updates discarded."""

    drop_stragglers = True

    def __init__(self, template: wire.TrainInstruction, *, per_round: int,
                 straggler_rate: float, straggler_rule: str = "bernoulli", mu: float = 0.0,
                 fail_prob: float = 0.0, params: Hyperparameters | None = None) -> None:
        if mu:
            raise ValueError(f"FedAvg has no proximal term (got mu={mu})")
        FedAvg.__init__(
            self,
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=per_round,
            min_available_nodes=per_round,
        )
        self._setup(template, per_round, straggler_rate, straggler_rule, fail_prob)


ALGORITHM = Algorithm(
    name="fedavg",
    strategy=StragglerDroppingFedAvg,
    uses_mu=False,
    baseline=True,
    docs=AlgorithmDocs(
        title="FedAvg",
        source="McMahan et al., Communication-Efficient Learning of Deep Networks from "
        "Decentralized Data, AISTATS 2017, Algorithm 1; stragglers dropped as in Li et al., "
        "MLSys 2020, section 5.2",
    ),
)

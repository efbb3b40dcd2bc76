"""FedProx (Li et al., Federated Optimization in Heterogeneous Networks, MLSys 2020).

Each client k approximately minimises h_k(w; w_t) = F_k(w) + (μ/2)·‖w − w_t‖²
(the paper's equation (2)) with local SGD; fedbench applies the proximal term as its
exact gradient, w ← w − lr·(∇F_k(w) + μ(w − w_t)), the paper's own local solver
(``fedbench.fl.training``). The server averages as FedAvg does, weighted by the number
of examples, and keeps the stragglers' partial work (Algorithm 2: "γ-inexact"
solutions are aggregated, not dropped). With μ = 0 it is FedAvg that keeps partial work.

Flower's ``FedProx`` strategy only puts ``proximal-mu`` into the train config; the
ClientApp adds the term.
"""

from __future__ import annotations

from dataclasses import replace

from flwr.serverapp.strategy import FedProx

from fedbench.algorithms.base import (
    Algorithm,
    AlgorithmDocs,
    Hyperparameters,
    ReproducibleRounds,
)
from fedbench.fl import wire


class PartialWorkFedProx(ReproducibleRounds, FedProx):
    """Flower's FedProx, stragglers' partial work aggregated."""

    drop_stragglers = False

    def __init__(self, template: wire.TrainInstruction, *, per_round: int,
                 straggler_rate: float, mu: float, straggler_rule: str = "bernoulli",
                 fail_prob: float = 0.0, params: Hyperparameters | None = None) -> None:
        FedProx.__init__(
            self,
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=per_round,
            min_available_nodes=per_round,
            proximal_mu=mu,
        )
        self._setup(replace(template, proximal_mu=mu), per_round, straggler_rate,
                    straggler_rule, fail_prob)


ALGORITHM = Algorithm(
    name="fedprox",
    strategy=PartialWorkFedProx,
    uses_mu=True,
    docs=AlgorithmDocs(
        title="FedProx",
        source="Li et al., Federated Optimization in Heterogeneous Networks, MLSys 2020, "
        "equation (2) and Algorithm 2",
    ),
)

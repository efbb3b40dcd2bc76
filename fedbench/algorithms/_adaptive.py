"""What FedAdam, FedYogi and FedAdagrad share (Reddi et al., Adaptive Federated Optimization,
ICLR 2021, Algorithm 2): hyperparameters, the round's starting model, and the moments.

Algorithm 2 treats the averaged client change Δ_t = Σ_k (n_k/n) x_k − x_t as a pseudo-gradient:
m_t = β₁ m_{t−1} + (1 − β₁) Δ_t, then a second moment v_t particular to each method, then
x_{t+1} = x_t + η m_t / (√v_t + τ). The moments start at m_{−1} = 0 and v_{−1} = τ²
(the paper asks v_{−1} ≥ τ²; Flower starts v at 0). β₁ applies to all three: Flower's
``FedAdagrad`` fixes it at 0, Algorithm 2 keeps m_t for Adagrad too. Flower's ``FedOpt``
computes Δ_t and m_t (``_compute_deltat_and_mt``); each module applies its own v_t.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord
from flwr.serverapp import Grid
from pydantic import Field

from fedbench.algorithms.base import Hyperparameters, ReproducibleRounds
from fedbench.fl import wire


class AdaptiveParams(Hyperparameters):
    server_lr: float = Field(0.01, gt=0, description="η, the server learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="β₁, the first moment's decay")
    beta2: float = Field(0.99, ge=0, lt=1, description="β₂, the second moment's decay")
    tau: float = Field(1e-3, gt=0, description="τ, the adaptivity (added to √v)")


class AdaptiveServer(ReproducibleRounds):
    """Mixin for Flower's ``FedOpt`` strategies: Flower's constructor with fedbench's
    hyperparameters, the round's model kept for Δ_t, and the moments as checkpoint state."""

    drop_stragglers = False

    def __init__(self, template: wire.TrainInstruction, *, per_round: int,
                 straggler_rate: float, straggler_rule: str = "bernoulli", mu: float = 0.0,
                 fail_prob: float = 0.0, params: AdaptiveParams | None = None) -> None:
        params = params or AdaptiveParams()
        flower = next(c for c in type(self).__mro__ if c.__module__.startswith("flwr."))
        flower.__init__(self, fraction_train=1.0, fraction_evaluate=0.0,
                        min_train_nodes=per_round, min_available_nodes=per_round,
                        eta=params.server_lr, eta_l=template.lr, tau=params.tau)
        # set here for all three: Flower's FedAdagrad fixes β₁ = 0, Algorithm 2 has m_t
        self.beta_1, self.beta_2 = params.beta1, params.beta2
        self._setup(template, per_round, straggler_rate, straggler_rule, fail_prob)

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid):
        # what FedOpt.configure_train does: Δ_t is measured from the round's model
        self.current_arrays = {k: wire.array_view(a).copy() for k, a in arrays.items()}
        return super().configure_train(server_round, arrays, config, grid)

    def initial_v(self) -> None:
        """v_{−1} = τ² (Algorithm 2), before Flower's code would start it at 0."""
        if not self.v_t:
            self.v_t = {k: np.full_like(v, self.tau**2) for k, v in self.current_arrays.items()}

    def state_arrays(self) -> dict[str, np.ndarray]:
        state = {}
        for name, moments in (("m", self.m_t), ("v", self.v_t)):
            state.update({f"{name}/{k}": v for k, v in (moments or {}).items()})
        return state

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        m = {k[2:]: v for k, v in arrays.items() if k.startswith("m/")}
        v = {k[2:]: v for k, v in arrays.items() if k.startswith("v/")}
        if len(m) + len(v) != len(arrays):
            raise ValueError(f"unexpected strategy state {sorted(arrays)}")
        self.m_t, self.v_t = m or None, v or None

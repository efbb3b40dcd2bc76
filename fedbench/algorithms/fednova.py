"""FedNova (Wang, Liu, Liang, Joshi and Poor, Tackling the Objective Inconsistency Problem in
Heterogeneous Federated Optimization, NeurIPS 2020, equations (6)–(7)).

With unequal local work, averaging the clients' models weighs each client by how many local
steps it ran as well as by its data, so FedAvg (keeping partial work) converges to the
optimum of a different, mismatched objective. FedNova divides each client's change by the
norm of its local-step coefficients a_i and rescales the average by their weighted mean:

    x ← x − τ_eff Σ_i p_i (x − y_i) / ‖a_i‖₁,    τ_eff = Σ_i p_i ‖a_i‖₁,   p_i = n_i / Σ n.

For fedbench's local solver, w ← (1 − η(λ + μ)) w + ... per step (weight decay λ, proximal
μ), the coefficients are powers of ρ = 1 − η(λ + μ), so ‖a_i‖₁ = Σ_{j<τ_i} ρ^j
= (1 − ρ^{τ_i}) / (1 − ρ), and τ_i for plain SGD (the paper's FedAvg and FedProx cases,
section 4 and Appendix). With local momentum β > 0 (``TrainInstruction.momentum``, the
heavy-ball rule of ``torch.optim.SGD``) the coefficients are the paper's momentum case,
a_{i,j} = Σ_{t<τ−j} β^t, so ‖a_i‖₁ = Σ_{t=1}^{τ} (1 − β^t)/(1 − β)
= [τ − β(1 − β^τ)/(1 − β)] / (1 − β), the formula of NIID-Bench's FedNova (its ``rho``);
then, as there, weight decay and μ are left out of the norm. τ_i is the number of steps
the client reports. When every ‖a_i‖₁
is the same the normalisation cancels exactly and the round is FedAvg's weighted average,
bit for bit; otherwise the update is computed in float64 and stored in float32.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from fedbench.algorithms.base import (
    Algorithm,
    AlgorithmDocs,
    Hyperparameters,
    ReproducibleRounds,
)
from fedbench.fl import wire


def step_norm(steps: int, lr: float, decay: float, mu: float, momentum: float = 0.0) -> float:
    """‖a_i‖₁ of τ = ``steps`` local steps.

    Without momentum: Σ_{j<τ} ρ^j with ρ = 1 − lr(decay + mu), τ for plain SGD. With
    momentum β > 0: [τ − β(1 − β^τ)/(1 − β)] / (1 − β), the sum over the τ steps of the
    momentum buffer's coefficients (1 − β^t)/(1 − β) (FedNova's momentum case, NIID-Bench's
    formula); ``decay`` and ``mu`` are ignored then, as NIID-Bench ignores them.
    """
    if momentum:
        return (steps - momentum * (1.0 - momentum**steps) / (1.0 - momentum)) / (1.0 - momentum)
    rho = 1.0 - lr * (decay + mu)
    if rho == 1.0:
        return float(steps)
    return (1.0 - rho**steps) / (1.0 - rho)


class NormalizedAveraging(ReproducibleRounds, FedAvg):
    """FedNova on Flower's FedAvg: each client's change normalised by its local work."""

    drop_stragglers = False

    def __init__(self, template: wire.TrainInstruction, *, per_round: int,
                 straggler_rate: float, straggler_rule: str = "bernoulli", mu: float = 0.0,
                 fail_prob: float = 0.0, params: Hyperparameters | None = None) -> None:
        FedAvg.__init__(self, fraction_train=1.0, fraction_evaluate=0.0,
                        min_train_nodes=per_round, min_available_nodes=per_round)
        self._setup(template, per_round, straggler_rate, straggler_rule, fail_prob)
        self.current: dict[str, np.ndarray] = {}

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid):
        self.current = {k: wire.array_view(a) for k, a in arrays.items()}
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        t = self.template
        norms = [step_norm(int(m.content["metrics"][wire.STEPS]), t.lr, t.weight_decay,
                           t.proximal_mu, t.momentum) for m in replies]
        if len(set(norms)) == 1:  # equal local work: the normalisation cancels
            return self._average(replies)
        _, metrics = self._average(replies)
        examples = np.array([int(m.content["metrics"][wire.NUM_EXAMPLES]) for m in replies],
                            dtype=np.float64)
        p = examples / examples.sum()
        tau_eff = float(np.dot(p, norms))
        x = self.current
        updated = {}
        for k, xk in x.items():
            direction = np.zeros(xk.shape, np.float64)
            for weight, norm, reply in zip(p, norms, replies, strict=True):
                if norm == 0:
                    continue  # no steps, no change
                y = wire.array_view(reply.content[self.arrayrecord_key][k])
                direction += weight * (xk.astype(np.float64) - y) / norm
            updated[k] = wire.ndarray_to_array((xk - tau_eff * direction).astype(xk.dtype))
        return ArrayRecord(updated), metrics


ALGORITHM = Algorithm(
    name="fednova",
    strategy=NormalizedAveraging,
    uses_mu=False,
    docs=AlgorithmDocs(
        title="FedNova",
        source="Wang et al., Tackling the Objective Inconsistency Problem in Heterogeneous "
        "Federated Optimization, NeurIPS 2020, equations (6)-(7)",
        partial_work_claim=(
            "When clients run unequal numbers of local steps τ_i, averaging their models "
            "weighs each client by its local work as well as by its data share p_i, so plain "
            "averaging (FedAvg keeping partial work, and FedProx) does not converge to a "
            "stationary point of the true objective Σ p_i F_i but of a mismatched, surrogate "
            "one in which clients with more steps count more (for plain SGD, weights "
            "p_i τ_i / Σ_j p_j τ_j); more rounds do not close that gap. Normalised averaging "
            "(FedNova) divides each client's change by its local work before averaging, "
            "which removes the mismatch and keeps the speed-up of local steps."),
        partial_work_claim_source=(
            "Wang et al., NeurIPS 2020: the objective inconsistency of FedAvg and FedProx "
            "with heterogeneous local updates (sections 2-4) and FedNova's normalised "
            "averaging, equations (6)-(7)"),
    ),
)

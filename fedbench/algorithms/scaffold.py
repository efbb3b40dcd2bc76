"""SCAFFOLD (Karimireddy et al., SCAFFOLD: Stochastic Controlled Averaging for Federated
Learning, ICML 2020, Algorithm 1 with option II).

Control variates correct the client drift that heterogeneous data causes. The server keeps
x, the global control variate c, and every client's c_i (0 until the client first trains):

- client i (equation (3)): y ← y − η_l (g_i(y) − c_i + c) for its K local steps; the
  ClientApp adds the ``wire.CORRECTION`` it is sent, c − c_i, to every gradient step. With
  local momentum (``TrainInstruction.momentum`` > 0, NIID-Bench's solver) the correction
  stays outside the momentum buffer, as in NIID-Bench's SCAFFOLD: y ← y − η_l·buf, then
  y ← y − η_l (c − c_i) (``fedbench.fl.training``);
- option II (equation (4)): c_i⁺ = c_i − c + (x − y_i) / (K_i η_l), with K_i the steps the
  client actually ran (a straggler's are fewer) and η_l the local learning rate; unchanged
  with local momentum (NIID-Bench's c_i update is the same);
- server (step 17): x ← x + η_g Σ_{i∈S} p_i (y_i − x) and c ← c + (1/N) Σ_{i∈S} (c_i⁺ − c_i),
  N the number of clients.

Two choices where the paper leaves room, both so that SCAFFOLD is paired with FedAvg: the
model update averages the clients' changes weighted by their number of examples
(p_i = n_i / Σ n, FedAvg's weights; the paper's Algorithm 1 writes the uniform 1/|S|), and
the c_i⁺ are computed on the server from what it already has (x, c, c_i, the reply's y_i and
K_i), which is the same arithmetic as on the client and keeps every c_i in the checkpoint.
With c = 0 and η_g = 1 a round is FedAvg's weighted average bit for bit.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg
from pydantic import Field

from fedbench.algorithms.base import (
    Algorithm,
    AlgorithmDocs,
    Hyperparameters,
    ReproducibleRounds,
)
from fedbench.fl import wire


class ScaffoldParams(Hyperparameters):
    server_lr: float = Field(1.0, gt=0, description="η_g, the global learning rate")


class ControlVariateAveraging(ReproducibleRounds, FedAvg):
    """SCAFFOLD on Flower's FedAvg: control variates on the server, corrections on the wire."""

    drop_stragglers = False

    def __init__(self, template: wire.TrainInstruction, *, per_round: int,
                 straggler_rate: float, straggler_rule: str = "bernoulli", mu: float = 0.0,
                 fail_prob: float = 0.0, params: ScaffoldParams | None = None) -> None:
        FedAvg.__init__(self, fraction_train=1.0, fraction_evaluate=0.0,
                        min_train_nodes=per_round, min_available_nodes=per_round)
        self._setup(template, per_round, straggler_rate, straggler_rule, fail_prob)
        self.server_lr = (params or ScaffoldParams()).server_lr
        self.current: dict[str, np.ndarray] = {}  # x, the round's global model
        self.c: dict[str, np.ndarray] | None = None  # None: c = 0
        self.c_i: dict[int, dict[str, np.ndarray]] = {}  # absent: c_i = 0

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid):
        self.current = {k: wire.array_view(a) for k, a in arrays.items()}
        return super().configure_train(server_round, arrays, config, grid)

    def client_records(self, partition: int) -> ArrayRecord | None:
        """c − c_i for one client; none while both are 0 (the first round)."""
        if self.c is None:
            return None
        mine = self.c_i.get(partition)
        correction = {k: c - mine[k] if mine is not None else c for k, c in self.c.items()}
        return ArrayRecord({k: wire.ndarray_to_array(v) for k, v in correction.items()})

    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        averaged, metrics = self._average(replies)
        x = self.current
        if self.server_lr != 1.0:  # x + η_g (Σ p_i y_i − x); for η_g = 1 exactly Σ p_i y_i
            averaged = ArrayRecord({
                k: wire.ndarray_to_array(x[k] + np.float32(self.server_lr)
                                         * (wire.array_view(a) - x[k]))
                for k, a in averaged.items()})
        c = self.c or {k: np.zeros_like(v) for k, v in x.items()}
        change = {k: np.zeros_like(v) for k, v in x.items()}
        lr = np.float32(self.template.lr)
        for reply in replies:
            steps = int(reply.content["metrics"][wire.STEPS])
            if steps == 0:
                continue  # a client with no samples learned nothing: its c_i stays
            pid = int(reply.content["metrics"][wire.PARTITION])
            y = {k: wire.array_view(a) for k, a in reply.content[self.arrayrecord_key].items()}
            old = self.c_i.get(pid)
            new = {k: (old[k] if old is not None else 0) - c[k]
                   + (x[k] - y[k]) / (np.float32(steps) * lr) for k in x}
            for k in x:
                change[k] += new[k] - (old[k] if old is not None else 0)
            self.c_i[pid] = new
        n = np.float32(self.template.num_clients)
        self.c = {k: c[k] + change[k] / n for k in x}
        return averaged, metrics

    def state_arrays(self) -> dict[str, np.ndarray]:
        if self.c is None:
            return {}
        ids = sorted(self.c_i)
        state = {f"c/{k}": v for k, v in self.c.items()}
        state["ids"] = np.array(ids, dtype=np.int64)
        for k in self.c:
            state[f"ci/{k}"] = np.stack([self.c_i[i][k] for i in ids]) if ids else np.zeros(0)
        return state

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if not arrays:
            return
        self.c = {k[2:]: v for k, v in arrays.items() if k.startswith("c/")}
        ids = [int(i) for i in arrays["ids"]]
        self.c_i = {pid: {k: arrays[f"ci/{k}"][row] for k in self.c}
                    for row, pid in enumerate(ids)}


ALGORITHM = Algorithm(
    name="scaffold",
    strategy=ControlVariateAveraging,
    uses_mu=False,
    hyperparameters=ScaffoldParams,
    docs=AlgorithmDocs(
        title="SCAFFOLD",
        source="Karimireddy et al., SCAFFOLD, ICML 2020, Algorithm 1, option II",
    ),
)

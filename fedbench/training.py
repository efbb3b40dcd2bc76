"""Local client training: SGD with weight decay and the FedProx proximal term.

The proximal term (mu/2)·||w - w_global||² enters as its exact gradient
mu·(w - w_global) added to each step, the paper's own local solver
(w ← w - lr·(g + mu(w - w_global))), instead of autograd on the norm. For the
logistic-regression model the cross-entropy gradient is closed-form too, so
one step is a handful of small tensor ops; other models use autograd for the
loss only. Batch order is a pure function of (seed, round, client).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fedbench.seeding import rng_for


@dataclass(frozen=True)
class LocalSGD:
    """The local solver's hyper-parameters."""

    lr: float
    weight_decay: float
    batch_size: int
    mu: float = 0.0


@dataclass(frozen=True)
class TrainResult:
    params: dict[str, torch.Tensor]
    loss: float  # mean cross-entropy over every sample seen in every epoch
    steps: int


def epoch_orders(n: int, epochs: int, seed: int, server_round: int, client: int) -> list[np.ndarray]:
    """Shuffled sample order for each local epoch (DataLoader(shuffle=True) semantics)."""
    rng = rng_for(seed, "batches", server_round, client)
    return [rng.permutation(n) for _ in range(epochs)]


def train_logreg(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    sgd: LocalSGD,
    orders: list[np.ndarray],
) -> TrainResult:
    """Closed-form-gradient SGD for ``fc.weight``/``fc.bias`` of LogisticRegression."""
    w_global, b_global = params["fc.weight"], params["fc.bias"]
    w, b = w_global.clone(), b_global.clone()
    lr, mu, decay = sgd.lr, sgd.mu, sgd.weight_decay
    keep = 1.0 - lr * (decay + mu)
    eye = torch.eye(w.shape[0], dtype=x.dtype, device=x.device)
    bs = sgd.batch_size
    n = x.shape[0]
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    steps = 0
    for order in orders[:epochs]:
        idx = torch.from_numpy(order).to(x.device)
        xe, ye = x.index_select(0, idx), y.index_select(0, idx)
        targets = eye.index_select(0, ye)
        for s in range(0, n, bs):
            xb, tb = xe[s : s + bs], targets[s : s + bs]
            logp = torch.log_softmax(torch.addmm(b, xb, w.t()), dim=1)
            loss_sum -= (logp * tb).sum()
            g = logp.exp_().sub_(tb).div_(xb.shape[0])
            gw, gb = torch.mm(g.t(), xb), g.sum(0)
            # w <- w - lr * (grad + decay*w + mu*(w - w_global))
            w.mul_(keep).add_(gw, alpha=-lr)
            b.mul_(keep).add_(gb, alpha=-lr)
            if mu:
                w.add_(w_global, alpha=lr * mu)
                b.add_(b_global, alpha=lr * mu)
            steps += 1
    seen = n * min(epochs, len(orders))
    loss = float(loss_sum) / seen if seen else float("nan")
    return TrainResult({"fc.weight": w, "fc.bias": b}, loss, steps)


def train_module(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    sgd: LocalSGD,
    orders: list[np.ndarray],
) -> TrainResult:
    """Autograd on the data loss; decay and proximal terms added as exact gradients."""
    model.load_state_dict(params)
    global_params = {k: v.detach().clone() for k, v in params.items()}
    named = list(model.named_parameters())
    bs = sgd.batch_size
    n = x.shape[0]
    loss_sum = 0.0
    steps = 0
    for order in orders[:epochs]:
        idx = torch.from_numpy(order).to(x.device)
        xe, ye = x.index_select(0, idx), y.index_select(0, idx)
        for s in range(0, n, bs):
            xb, yb = xe[s : s + bs], ye[s : s + bs]
            model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            loss_sum += float(loss) * xb.shape[0]
            with torch.no_grad():
                for name, p in named:
                    step = p.grad + sgd.weight_decay * p
                    if sgd.mu:
                        step = step + sgd.mu * (p - global_params[name])
                    p.add_(step, alpha=-sgd.lr)
            steps += 1
    seen = n * min(epochs, len(orders))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TrainResult(state, loss_sum / seen if seen else float("nan"), steps)


def evaluate(model_name: str, model: nn.Module, params: dict[str, torch.Tensor],
             x: torch.Tensor, y: torch.Tensor, batch: int = 10_000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``params`` on (x, y)."""
    with torch.no_grad():
        if model_name == "logreg":
            logits = torch.addmm(params["fc.bias"], x, params["fc.weight"].t())
            loss = F.cross_entropy(logits, y, reduction="sum")
            correct = (logits.argmax(1) == y).sum()
        else:
            model.load_state_dict(params)
            model.eval()
            loss = torch.zeros((), device=x.device)
            correct = torch.zeros((), dtype=torch.long, device=x.device)
            for s in range(0, x.shape[0], batch):
                logits = model(x[s : s + batch])
                loss += F.cross_entropy(logits, y[s : s + batch], reduction="sum")
                correct += (logits.argmax(1) == y[s : s + batch]).sum()
            model.train()
    n = x.shape[0]
    return float(loss) / n, float(correct) / n

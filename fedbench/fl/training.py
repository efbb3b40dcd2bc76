"""Local client training: SGD with weight decay and the FedProx proximal term.

The proximal term (mu/2)·||w - w_global||² enters as its exact gradient
mu·(w - w_global) added to each step, the paper's own local solver
(w ← w - lr·(g + mu(w - w_global))), instead of autograd on the norm. For the
logistic-regression model the cross-entropy gradient is closed-form too, so
one step is a handful of small tensor ops; other models use autograd for the
loss only. Batch order is a pure function of (seed, round, client).

With ``momentum`` > 0 (NIID-Bench's local solver, ρ = 0.9) the step follows
``torch.optim.SGD``'s heavy-ball rule exactly, with a buffer that starts at zero
every round (NIID-Bench builds a fresh optimizer per round):

    d = (g + μ·(w − w_global)) + λ·w,   buf ← d (first step), buf ← ρ·buf + d,   w ← w − η·buf

and SCAFFOLD's correction c − c_i is applied after the step, outside the buffer,
``w ← w − η·(c − c_i)``, as NIID-Bench's SCAFFOLD does. With momentum 0 nothing
changes: the correction stays inside the gradient, and every path keeps its bits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    # a term added to every step's gradient, per parameter (SCAFFOLD's c − c_i); None: none.
    # With momentum > 0 it is applied after each step instead, outside the momentum buffer
    correction: dict[str, torch.Tensor] | None = None
    # heavy-ball momentum ρ (torch.optim.SGD's rule, dampening 0, no Nesterov); 0: plain SGD
    momentum: float = 0.0


@dataclass(frozen=True)
class TrainResult:
    params: dict[str, torch.Tensor]
    loss: float  # mean cross-entropy over every sample seen in every epoch
    steps: int


def epoch_orders(
    n: int, epochs: int, seed: int, server_round: int, client: int
) -> list[np.ndarray]:
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
    """Closed-form-gradient SGD for ``fc.weight``/``fc.bias`` of LogisticRegression.

    Each step is the same sequence of kernels on the same shapes as the textbook
    loop (addmm, log_softmax, exp, sub, div, mm, sum, then ``w <- w*keep - lr*g``
    and the proximal pull), so the result is bit-identical to it; what is gone is
    per-step overhead: batches are views made by one ``split`` per tensor, every
    intermediate has a preallocated ``out=`` buffer, weight and bias live in one
    flat buffer (one update kernel instead of two), and the training loss is not
    reduced at every step: log-probabilities are kept and each batch's
    ``sum(logp * onehot)`` is reduced afterwards, batch by batch over the same
    contiguous elements, then accumulated in float64 in step order. The loop runs
    in inference mode (no autograd bookkeeping), which changes no kernel.

    With momentum the closed form is not used: the weights go into an ``nn.Linear`` (what
    ``LogisticRegression`` computes) trained by ``train_module``'s momentum path (autograd
    on the loss, torch.optim.SGD's rule), which is exact and simple, not fast.
    """
    if sgd.momentum:
        k, d = params["fc.weight"].shape
        # uninitialised (no draw from torch's global RNG): the weights are loaded next
        model = nn.utils.skip_init(nn.Linear, d, k, device=x.device, dtype=x.dtype)
        named = {"weight": params["fc.weight"], "bias": params["fc.bias"]}
        correction = (None if sgd.correction is None else
                      {"weight": sgd.correction["fc.weight"], "bias": sgd.correction["fc.bias"]})
        result = _train_module_momentum(model, named, x, y, epochs,
                                        replace(sgd, correction=correction), orders)
        return TrainResult({"fc.weight": result.params["weight"],
                            "fc.bias": result.params["bias"]}, result.loss, result.steps)
    with torch.inference_mode():  # no autograd bookkeeping: ~10 % of a step
        flat, loss, steps = _train_logreg_flat(params, x, y, epochs, sgd, orders)
    flat = flat.clone()  # an ordinary tensor for the caller (inference tensors are read-only)
    k, d = params["fc.weight"].shape
    params_out = {"fc.weight": flat[: k * d].view(k, d), "fc.bias": flat[k * d :]}
    return TrainResult(params_out, loss, steps)


def _train_logreg_flat(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    sgd: LocalSGD,
    orders: list[np.ndarray],
) -> tuple[torch.Tensor, float, int]:
    w_global, b_global = params["fc.weight"], params["fc.bias"]
    lr, mu, decay = sgd.lr, sgd.mu, sgd.weight_decay
    keep = 1.0 - lr * (decay + mu)
    bs = sgd.batch_size
    n = x.shape[0]
    k, d = w_global.shape
    dev, dt = x.device, x.dtype
    flat = torch.empty(k * d + k, dtype=dt, device=dev)  # [w | b]: one buffer, one update kernel
    w, b = flat[: k * d].view(k, d), flat[k * d :]
    w.copy_(w_global)
    b.copy_(b_global)
    orders = orders[:epochs]
    n_epochs = len(orders)
    if n_epochs == 0 or n == 0:
        return flat, float("nan"), 0
    grad = torch.empty_like(flat)
    gw, gb = grad[: k * d].view(k, d), grad[k * d :]
    pull = torch.cat([w_global.reshape(-1), b_global.reshape(-1)]) if mu else None
    corr = (torch.cat([sgd.correction["fc.weight"].reshape(-1).to(dev, dt),
                       sgd.correction["fc.bias"].reshape(-1).to(dev, dt)])
            if sgd.correction is not None else None)
    idx = torch.from_numpy(np.concatenate(orders)).to(dev)
    onehot = torch.zeros(n_epochs * n, k, dtype=dt, device=dev)
    onehot.scatter_(1, y.index_select(0, idx).unsqueeze(1), 1.0)
    logp_all = torch.empty(n_epochs * n, k, dtype=dt, device=dev)
    full, rem = divmod(n, bs)
    epoch_sizes = [bs] * full + ([rem] if rem else [])
    per_epoch_steps = len(epoch_sizes)
    sizes = epoch_sizes * n_epochs
    onehots, logps = onehot.split(sizes), logp_all.split(sizes)
    x_epoch = torch.empty(n, d, dtype=dt, device=dev)  # one epoch's samples in batch order
    x_batches = x_epoch.split(epoch_sizes)  # views, refilled every epoch
    z, g = torch.empty(bs, k, dtype=dt, device=dev), torch.empty(bs, k, dtype=dt, device=dev)
    buffers = {bs: (z, g, g.t()), rem: (z[:rem], g[:rem], g[:rem].t())}
    # 0-dim tensors: a Python scalar costs a tensor conversion per call; values are the same
    divisors = {m: torch.tensor(float(m), dtype=dt, device=dev) for m in buffers if m}
    keep_t = torch.tensor(keep, dtype=dt, device=dev)
    wt, neg_lr, lr_mu = w.t(), -lr, lr * mu
    addmm, log_softmax, exp, mm, tsum = (
        torch.addmm,
        torch.log_softmax,
        torch.exp,
        torch.mm,
        torch.sum,
    )
    for epoch in range(n_epochs):
        torch.index_select(x, 0, idx[epoch * n : (epoch + 1) * n], out=x_epoch)
        first = epoch * per_epoch_steps
        steps = zip(
            x_batches,
            onehots[first : first + per_epoch_steps],
            logps[first : first + per_epoch_steps],
            strict=True,
        )
        for xb, tb, logp in steps:
            m = xb.shape[0]
            zb, gbuf, gbuf_t = buffers[m]
            addmm(b, xb, wt, out=zb)
            log_softmax(zb, 1, out=logp)
            exp(logp, out=gbuf)
            gbuf.sub_(tb).div_(divisors[m])
            mm(gbuf_t, xb, out=gw)
            tsum(gbuf, 0, out=gb)
            # w <- w - lr * (grad + decay*w + mu*(w - w_global))
            flat.mul_(keep_t).add_(grad, alpha=neg_lr)
            if mu:
                flat.add_(pull, alpha=lr_mu)
            if corr is not None:
                flat.add_(corr, alpha=neg_lr)
    # the loss, as sum over steps of -sum(logp * onehot) per batch, in float64, in step order
    per_epoch = logp_all.mul_(onehot).view(n_epochs, n * k)
    parts = []
    if full:
        parts.append(per_epoch[:, : full * bs * k].reshape(n_epochs, full, bs * k).sum(2))
    if rem:
        parts.append(per_epoch[:, full * bs * k :].sum(1, keepdim=True))
    loss_sum = 0.0
    for row in (torch.cat(parts, 1) if len(parts) > 1 else parts[0]).tolist():
        for value in row:
            loss_sum -= value
    return flat, loss_sum / (n * n_epochs), len(sizes)


def train_module(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    sgd: LocalSGD,
    orders: list[np.ndarray],
) -> TrainResult:
    """Autograd on the data loss; decay and proximal terms added as exact gradients.

    With ``sgd.momentum`` > 0: torch.optim.SGD's momentum rule (``_train_module_momentum``).
    """
    if sgd.momentum:
        return _train_module_momentum(model, params, x, y, epochs, sgd, orders)
    model.load_state_dict(params)
    global_params = {k: v.detach().clone() for k, v in params.items()}
    named = list(model.named_parameters())
    plain = sgd.weight_decay == 0 and not sgd.mu and sgd.correction is None  # plain SGD
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
            loss_sum += float(loss.detach()) * xb.shape[0]
            with torch.no_grad():
                for name, p in named:
                    if plain:  # grad + 0·p is grad: skip two full-size temporaries per tensor
                        p.add_(p.grad, alpha=-sgd.lr)
                        continue
                    step = p.grad + sgd.weight_decay * p
                    if sgd.mu:
                        step = step + sgd.mu * (p - global_params[name])
                    if sgd.correction is not None:
                        step = step + sgd.correction[name]
                    p.add_(step, alpha=-sgd.lr)
            steps += 1
    seen = n * min(epochs, len(orders))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TrainResult(state, loss_sum / seen if seen else float("nan"), steps)


def _train_module_momentum(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    sgd: LocalSGD,
    orders: list[np.ndarray],
) -> TrainResult:
    """Heavy-ball local SGD: the kernels of ``torch.optim.SGD(momentum, weight_decay)``.

    One step, on all parameters at once with ``torch._foreach_*`` (``foreach=True``'s
    kernels; on the CPU they run the single-tensor ops one tensor at a time, so the bits
    are those of either implementation): the proximal gradient goes into the gradient first,
    ``g.add_(w − w_global, alpha=μ)`` when μ > 0 (where autograd would put it: NIID-Bench
    adds the term to the loss), then torch.optim.SGD's step: ``d = g.add(w, alpha=λ)``;
    ``buf = clone(d)`` on the round's first step, else ``buf.mul_(ρ).add_(d, alpha=1)``;
    ``w.add_(buf, alpha=−η)``; then SCAFFOLD's ``w.add_(c − c_i, alpha=−η)``. The buffer
    starts at zero every call (a fresh optimizer per round, as NIID-Bench). The loss is kept
    as one 0-dim tensor per step and reduced after the loop, ``Σ float(loss)·m`` in float64
    in step order: the same value as reading it at every step, without a device sync per
    step.
    """
    model.load_state_dict(params)
    named = list(model.named_parameters())
    ps = [p for _, p in named]
    lr, rho, decay, mu = sgd.lr, sgd.momentum, sgd.weight_decay, sgd.mu
    anchors = [params[name].detach().to(p).clone() for name, p in named] if mu else None
    corr = ([sgd.correction[name].to(p) for name, p in named]
            if sgd.correction is not None else None)
    bs = sgd.batch_size
    n = x.shape[0]
    bufs: list[torch.Tensor] | None = None
    losses: list[torch.Tensor] = []
    sizes: list[int] = []
    foreach_add, foreach_add_, foreach_mul_ = (
        torch._foreach_add, torch._foreach_add_, torch._foreach_mul_)
    for order in orders[:epochs] if n else ():
        idx = torch.from_numpy(order).to(x.device)
        xe, ye = x.index_select(0, idx), y.index_select(0, idx)
        for xb, yb in zip(xe.split(bs), ye.split(bs), strict=True):
            for p in ps:
                p.grad = None
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            losses.append(loss.detach())
            sizes.append(xb.shape[0])
            with torch.no_grad():
                d = [p.grad for p in ps]
                if anchors is not None:  # the proximal gradient, as if autograd had added it
                    foreach_add_(d, torch._foreach_sub(ps, anchors), alpha=mu)
                if decay:
                    d = foreach_add(d, ps, alpha=decay)
                if bufs is None:
                    bufs = [t.clone() for t in d]
                else:
                    foreach_mul_(bufs, rho)
                    foreach_add_(bufs, d, alpha=1.0)
                foreach_add_(ps, bufs, alpha=-lr)
                if corr is not None:
                    foreach_add_(ps, corr, alpha=-lr)
    for p in ps:
        p.grad = None
    loss_sum = 0.0
    if losses:
        for value, m in zip(torch.stack(losses).tolist(), sizes, strict=True):
            loss_sum += value * m
    seen = n * min(epochs, len(orders))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TrainResult(state, loss_sum / seen if seen else float("nan"), len(sizes))


def evaluate(
    model_name: str,
    model: nn.Module,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int = 10_000,
) -> tuple[float, float]:
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

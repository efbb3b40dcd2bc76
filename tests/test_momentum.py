"""Local momentum (NIID-Bench's solver): train_module and train_logreg against a plain
``torch.optim.SGD(momentum, weight_decay)`` loop on the same batches, bit for bit;
SCAFFOLD's correction outside the momentum buffer; FedNova's momentum norm; and the
momentum-0 paths unchanged.

The references are written the way a plain PyTorch training loop is: one optimizer per
round, ``zero_grad``, forward, ``cross_entropy``, ``backward``, ``step``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fedbench.algorithms.fednova import step_norm
from fedbench.fl.models import build_model
from fedbench.fl.training import LocalSGD, epoch_orders, train_logreg, train_module
from tests.test_algorithms import (  # noqa: F401 (server_identity: the Messages need it)
    TEMPLATE,
    reply,
    run_round,
    server_identity,
    strategy,
)

LR, RHO, DECAY = 0.01, 0.9, 1e-5


def _client(n: int = 150, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 784, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def _params(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in build_model(name, seed).state_dict().items()}


def _reference(name, params, x, y, orders, bs, *, lr=LR, momentum=RHO, decay=DECAY,
               mu=0.0, correction=None, foreach=None):
    """A plain torch.optim.SGD loop; μ enters the gradient (as autograd would put it) and
    SCAFFOLD's correction is applied after each step, as NIID-Bench's SCAFFOLD does."""
    model = build_model(name, 0)
    model.load_state_dict(params)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay,
                          foreach=foreach)
    loss_sum, steps = 0.0, 0
    for order in orders:
        idx = torch.from_numpy(order)
        xe, ye = x[idx], y[idx]
        for s in range(0, len(x), bs):
            opt.zero_grad()
            loss = F.cross_entropy(model(xe[s : s + bs]), ye[s : s + bs])
            loss.backward()
            loss_sum += loss.item() * len(xe[s : s + bs])
            with torch.no_grad():
                if mu:
                    for key, p in model.named_parameters():
                        p.grad.add_(p - params[key], alpha=mu)
                opt.step()
                if correction is not None:
                    for key, p in model.named_parameters():
                        p.add_(correction[key], alpha=-lr)
            steps += 1
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return state, loss_sum / (len(x) * len(orders)), steps


def _assert_same(result, reference) -> None:
    state, loss, steps = reference
    assert result.params.keys() == state.keys()
    for key in state:
        assert torch.equal(result.params[key], state[key]), key
    assert result.loss == loss
    assert result.steps == steps


@pytest.mark.parametrize("name", ["simple-cnn", "2nn"])
@pytest.mark.parametrize("foreach", [False, True])
def test_train_module_with_momentum_is_torch_sgd_bit_for_bit(name: str, foreach: bool) -> None:
    x, y = _client()  # 150 = 2 x 64 + 22: a partial last batch in each epoch
    params = _params(name)
    orders = epoch_orders(len(x), 2, seed=0, server_round=3, client=1)
    sgd = LocalSGD(lr=LR, weight_decay=DECAY, batch_size=64, momentum=RHO)
    result = train_module(build_model(name, 0), params, x, y, 2, sgd, orders)
    _assert_same(result, _reference(name, params, x, y, orders, 64, foreach=foreach))
    assert all(torch.equal(params[k], v) for k, v in _params(name).items())  # input untouched


def test_momentum_without_weight_decay_is_torch_sgd_bit_for_bit() -> None:
    x, y = _client(100)
    params, orders = _params("simple-cnn"), epoch_orders(100, 2, 0, 1, 0)
    sgd = LocalSGD(lr=0.05, weight_decay=0.0, batch_size=32, momentum=0.5)
    result = train_module(build_model("simple-cnn", 0), params, x, y, 2, sgd, orders)
    _assert_same(result, _reference("simple-cnn", params, x, y, orders, 32, lr=0.05,
                                    momentum=0.5, decay=0.0))


def test_the_buffer_starts_at_zero_every_round() -> None:
    """Each call is a fresh optimizer: training twice from the same model gives the same bits,
    and a round's epochs share one buffer (the 2-epoch reference above)."""
    x, y = _client(80)
    params, orders = _params("simple-cnn"), epoch_orders(80, 1, 0, 1, 0)
    sgd = LocalSGD(lr=LR, weight_decay=DECAY, batch_size=16, momentum=RHO)
    model = build_model("simple-cnn", 0)
    first = train_module(model, params, x, y, 1, sgd, orders)
    second = train_module(model, params, x, y, 1, sgd, orders)
    assert all(torch.equal(first.params[k], second.params[k]) for k in params)
    assert first.loss == second.loss


def test_scaffold_correction_is_applied_outside_the_momentum_buffer() -> None:
    x, y = _client()
    params, orders = _params("simple-cnn"), epoch_orders(len(x), 2, 0, 2, 3)
    gen = torch.Generator().manual_seed(5)
    correction = {k: 0.1 * torch.randn(v.shape, generator=gen) for k, v in params.items()}
    sgd = LocalSGD(LR, DECAY, 64, correction=correction, momentum=RHO)
    result = train_module(build_model("simple-cnn", 0), params, x, y, 2, sgd, orders)
    _assert_same(result, _reference("simple-cnn", params, x, y, orders, 64,
                                    correction=correction))
    # inside the buffer it would be accumulated by the momentum: a different model
    inside = LocalSGD(LR, DECAY, 64, momentum=RHO)
    model = build_model("simple-cnn", 0)
    model.load_state_dict(params)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=RHO, weight_decay=DECAY)
    for order in orders:
        for s in range(0, len(x), inside.batch_size):
            idx = torch.from_numpy(order[s : s + inside.batch_size])
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            for key, p in model.named_parameters():
                p.grad.add_(correction[key])
            opt.step()
    drift = max(float((result.params[k] - v).abs().max()) for k, v in model.state_dict().items())
    assert drift > 1e-3


def test_proximal_term_with_momentum_enters_the_gradient() -> None:
    x, y = _client()
    params, orders = _params("simple-cnn"), epoch_orders(len(x), 2, 0, 1, 2)
    sgd = LocalSGD(LR, DECAY, 64, mu=0.5, momentum=RHO)
    result = train_module(build_model("simple-cnn", 0), params, x, y, 2, sgd, orders)
    _assert_same(result, _reference("simple-cnn", params, x, y, orders, 64, mu=0.5))


def test_train_logreg_with_momentum_is_torch_sgd_bit_for_bit() -> None:
    x, y = _client(95)
    params, orders = _params("logreg"), epoch_orders(95, 3, 0, 1, 0)
    gen = torch.Generator().manual_seed(2)
    correction = {k: 0.01 * torch.randn(v.shape, generator=gen) for k, v in params.items()}
    for extra in ({}, {"correction": correction}, {"mu": 1.0}):
        sgd = LocalSGD(0.03, 1e-3, 10, momentum=RHO, **extra)
        result = train_logreg(params, x, y, 3, sgd, orders)
        _assert_same(result, _reference("logreg", params, x, y, orders, 10, lr=0.03,
                                        decay=1e-3, **extra))
        assert result.params["fc.weight"].shape == (10, 784)
    state = torch.get_rng_state()
    train_logreg(params, x, y, 1, LocalSGD(0.03, 0.0, 10, momentum=RHO), orders)
    assert torch.equal(state, torch.get_rng_state())  # torch's global RNG is not drawn from


def test_momentum_zero_keeps_every_existing_path() -> None:
    """momentum=0 (the default) is the solver as it was: plain SGD ``p -= lr·grad`` (McMahan's,
    which is also torch.optim.SGD without momentum and decay), and otherwise
    ``p -= lr·(grad + λp + μ(p − p_global) + (c − c_i))`` with the correction inside."""
    x, y = _client(70)
    params, orders = _params("simple-cnn"), epoch_orders(70, 2, 0, 4, 1)
    assert LocalSGD(0.1, 0.0, 10) == LocalSGD(0.1, 0.0, 10, momentum=0.0)
    plain = train_module(build_model("simple-cnn", 0), params, x, y, 2,
                         LocalSGD(0.1, 0.0, 16), orders)
    _assert_same(plain, _reference("simple-cnn", params, x, y, orders, 16, lr=0.1,
                                   momentum=0.0, decay=0.0))

    gen = torch.Generator().manual_seed(4)
    correction = {k: 0.01 * torch.randn(v.shape, generator=gen) for k, v in params.items()}
    sgd = LocalSGD(0.1, 1e-3, 16, mu=0.5, correction=correction)
    result = train_module(build_model("simple-cnn", 0), params, x, y, 2, sgd, orders)
    model = build_model("simple-cnn", 0)
    model.load_state_dict(params)
    loss_sum = 0.0
    for order in orders:
        idx = torch.from_numpy(order)
        xe, ye = x[idx], y[idx]
        for s in range(0, 70, 16):
            model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xe[s : s + 16]), ye[s : s + 16])
            loss.backward()
            loss_sum += float(loss.detach()) * len(xe[s : s + 16])
            with torch.no_grad():
                for key, p in model.named_parameters():
                    step = p.grad + 1e-3 * p
                    step = step + 0.5 * (p - params[key])
                    step = step + correction[key]
                    p.add_(step, alpha=-0.1)
    for key, value in model.state_dict().items():
        assert torch.equal(result.params[key], value), key
    assert result.loss == loss_sum / 140


# --- FedNova's momentum norm ---------------------------------------------------------------------


def test_fednova_momentum_norm_is_the_sum_of_the_buffer_coefficients() -> None:
    for tau in (0, 1, 2, 7, 94, 940):
        direct = sum(sum(RHO**j for j in range(t)) for t in range(1, tau + 1))
        assert step_norm(tau, LR, DECAY, 0.0, RHO) == pytest.approx(direct, rel=1e-12)
    assert step_norm(2, LR, DECAY, 0.0, RHO) == pytest.approx(2 + RHO, rel=1e-15)
    # NIID-Bench's a_i ignores weight decay and μ
    assert step_norm(9, 0.1, 0.01, 0.5, 0.5) == step_norm(9, 0.1, 0.0, 0.0, 0.5)
    # momentum 0: as before (τ for plain SGD, the geometric sum with decay)
    assert step_norm(5, 0.1, 0.0, 0.0, 0.0) == 5
    assert step_norm(3, 0.1, 0.01, 0.5, 0.0) == step_norm(3, 0.1, 0.01, 0.5)


def test_fednova_round_uses_the_templates_momentum() -> None:
    s = strategy("fednova", replace(TEMPLATE, momentum=RHO, weight_decay=0.01))
    x = np.array([1.0, 1.0], dtype=np.float32)
    a1, a2 = 4 + 3 * RHO + 2 * RHO**2 + RHO**3, 2 + RHO  # τ = 4 and 2, by hand
    d = 0.5 * (x - np.array([0.0, 0.0])) / a1 + 0.5 * (x - np.array([3.0, 1.0])) / a2
    expected = x - (0.5 * a1 + 0.5 * a2) * d
    got = run_round(s, 1, x, [reply(0, [0.0, 0.0], 2, 4), reply(1, [3.0, 1.0], 2, 2)])
    np.testing.assert_allclose(got, expected, atol=1e-6)

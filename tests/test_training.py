"""Local training: the closed-form logistic-regression solver, the proximal term, models."""

from __future__ import annotations

import torch

from fedbench.fl.models import build_model
from fedbench.fl.training import LocalSGD, epoch_orders, train_logreg, train_module


def _client(n: int = 57, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 784, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    params = {k: v.detach().clone() for k, v in build_model("logreg", seed).state_dict().items()}
    return x, y, params


def _distance(a: dict, b: dict) -> float:
    return float(sum(((a[k] - b[k]) ** 2).sum() for k in a) ** 0.5)


def test_closed_form_solver_matches_autograd_sgd() -> None:
    x, y, params = _client()
    sgd = LocalSGD(lr=0.03, weight_decay=0.001, batch_size=10, mu=2.0)
    orders = epoch_orders(len(x), 5, seed=0, server_round=1, client=4)
    fast = train_logreg(params, x, y, 5, sgd, orders)
    reference = train_module(build_model("logreg", 0), params, x, y, 5, sgd, orders)
    for key in fast.params:
        torch.testing.assert_close(fast.params[key], reference.params[key], rtol=1e-4, atol=1e-5)
    assert abs(fast.loss - reference.loss) < 1e-4
    assert fast.steps == reference.steps == 5 * 6  # ceil(57 / 10) batches per epoch


def test_large_mu_keeps_the_local_model_near_the_global_one() -> None:
    x, y, params = _client()
    orders = epoch_orders(len(x), 10, seed=0, server_round=1, client=0)
    drift = [
        _distance(
            train_logreg(params, x, y, 10, LocalSGD(0.03, 0.001, 10, mu=mu), orders).params, params
        )
        for mu in (0.0, 2.0, 10.0, 30.0)
    ]
    assert drift == sorted(drift, reverse=True)  # a stronger pull, a shorter drift
    assert drift[-1] < 0.25 * drift[0]


def test_training_leaves_the_received_global_weights_untouched() -> None:
    x, y, params = _client()
    before = {k: v.clone() for k, v in params.items()}
    train_logreg(
        params, x, y, 2, LocalSGD(0.03, 0.001, 10, mu=1.0), epoch_orders(len(x), 2, 0, 1, 0)
    )
    assert all(torch.equal(before[k], params[k]) for k in params)


def test_batch_order_is_a_function_of_seed_round_and_client() -> None:
    a = epoch_orders(50, 3, seed=1, server_round=2, client=3)
    assert all((u == v).all() for u, v in zip(a, epoch_orders(50, 3, 1, 2, 3), strict=True))
    assert any((u != v).any() for u, v in zip(a, epoch_orders(50, 3, 1, 2, 4), strict=True))


def test_model_initialisation_is_seeded() -> None:
    a, b, c = build_model("logreg", 1), build_model("logreg", 1), build_model("logreg", 2)
    assert torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)


def _num_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_published_parameter_counts() -> None:
    assert _num_parameters(build_model("logreg", 0)) == 7_850
    assert _num_parameters(build_model("2nn", 0)) == 199_210  # McMahan et al. 2017
    assert _num_parameters(build_model("cnn", 0)) == 1_663_370


def test_plain_sgd_shortcut_gives_the_bits_of_the_general_update() -> None:
    """McMahan's plain SGD (no decay, no proximal term) updates ``p -= lr * grad`` directly;
    the general update ``p -= lr * (grad + 0 * p)`` must give exactly the same weights."""
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(64, 784, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    model = build_model("2nn", 0)
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    orders = epoch_orders(len(x), 2, seed=0, server_round=1, client=0)
    fast = train_module(model, params, x, y, 2, LocalSGD(lr=0.1, weight_decay=0.0,
                                                         batch_size=10), orders)

    reference = build_model("2nn", 0)
    reference.load_state_dict(params)
    for order in orders:
        for s in range(0, len(x), 10):
            idx = torch.from_numpy(order[s : s + 10])
            reference.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(reference(x[idx]), y[idx]).backward()
            with torch.no_grad():
                for p in reference.parameters():
                    p.add_(p.grad + 0.0 * p, alpha=-0.1)
    for key, value in reference.state_dict().items():
        assert torch.equal(fast.params[key], value), key

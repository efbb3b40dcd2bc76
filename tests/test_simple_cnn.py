"""NIID-Bench's simple CNN (``simple-cnn``): its architecture, size and seeded initialisation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fedbench.config import Setting, TrainingConfig
from fedbench.fl.models import MODELS, build_model
from fedbench.fl.training import evaluate

# NIID-Bench's SimpleCNNMNIST(input_dim=16*4*4, hidden_dims=[120, 84], output_dim=10)
SHAPES = {
    "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,),
    "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
    "fc1.weight": (120, 256), "fc1.bias": (120,),
    "fc2.weight": (84, 120), "fc2.bias": (84,),
    "fc3.weight": (10, 84), "fc3.bias": (10,),
}


def test_layers_and_parameter_count() -> None:
    model = build_model("simple-cnn", 0)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == SHAPES
    assert list(model.state_dict()) == list(SHAPES)  # the order build_model initialises in
    assert sum(p.numel() for p in model.parameters()) == 44_426
    assert "simple-cnn" in MODELS


def test_forward_is_niid_bench_simple_cnn_mnist() -> None:
    """conv-relu-pool twice, flatten 16·4·4, fc 120-84-10 with ReLU, written out with F."""
    model = build_model("simple-cnn", 3)
    w = model.state_dict()
    x = torch.rand(7, 784, generator=torch.Generator().manual_seed(0))
    h = x.view(-1, 1, 28, 28)
    h = F.max_pool2d(F.relu(F.conv2d(h, w["conv1.weight"], w["conv1.bias"])), 2, 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w["conv2.weight"], w["conv2.bias"])), 2, 2)
    h = h.view(-1, 16 * 4 * 4)
    h = F.relu(F.linear(h, w["fc1.weight"], w["fc1.bias"]))
    h = F.relu(F.linear(h, w["fc2.weight"], w["fc2.bias"]))
    expected = F.linear(h, w["fc3.weight"], w["fc3.bias"])
    with torch.no_grad():
        assert torch.equal(model(x), expected)
        assert torch.equal(model(x.view(7, 1, 28, 28)), expected)  # images or flat rows


def test_initialisation_is_seeded_and_uniform_in_the_fan_in_bound() -> None:
    a, b, c = (build_model("simple-cnn", s).state_dict() for s in (1, 1, 2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(not torch.equal(a[k], c[k]) for k in a)
    for key, value in a.items():
        layer = key.rsplit(".", 1)[0]
        fan_in = math.prod(a[f"{layer}.weight"].shape[1:])
        assert value.abs().max() <= 1 / math.sqrt(fan_in)


def test_the_config_accepts_it_only_for_mnist_inputs() -> None:
    assert TrainingConfig(model="simple-cnn").model == "simple-cnn"
    assert Setting(model="simple-cnn").model == "simple-cnn"
    with pytest.raises(ValueError, match="takes 784 inputs"):
        build_model("simple-cnn", 0, input_dim=60)


def test_evaluate_runs_it_in_batches() -> None:
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(25, 784, generator=gen), torch.randint(0, 10, (25,), generator=gen)
    model = build_model("simple-cnn", 0)
    params = {k: v.clone() for k, v in model.state_dict().items()}
    loss, acc = evaluate("simple-cnn", model, params, x, y, batch=10)
    with torch.no_grad():
        logits = model(x)
    assert loss == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)
    assert acc == int((logits.argmax(1) == y).sum()) / 25

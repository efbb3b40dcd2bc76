"""Models of the replicated papers, with seeded initialisation.

``logreg`` is the multinomial logistic regression of the FedProx MNIST
experiments; ``2nn`` and ``cnn`` are McMahan et al.'s MNIST models (199,210 and
1,663,370 parameters); ``simple-cnn`` is NIID-Bench's small MNIST/Fashion-MNIST CNN
(44,426 parameters). Initialisation draws from a generator seeded by the
cell's seed, never from torch's global RNG, so a model is a pure function of it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fedbench.seeding import torch_seed_for

INPUT_DIM = 784
NUM_CLASSES = 10


class LogisticRegression(nn.Module):
    def __init__(self, input_dim: int = INPUT_DIM) -> None:
        super().__init__()
        self.fc = nn.Linear(input_dim, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.reshape(x.shape[0], -1))


class TwoNN(nn.Module):
    """784-200-200-10 with ReLU (McMahan et al. 2017, "2NN")."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(INPUT_DIM, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], -1))


class CNN(nn.Module):
    """Two 5x5 conv layers (32, 64), each with 2x2 max-pool, fc 512, softmax output."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(7 * 7 * 64, 512), nn.ReLU(), nn.Linear(512, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(x.shape[0], 1, 28, 28)))


class SimpleCNN(nn.Module):
    """NIID-Bench's ``SimpleCNNMNIST`` (Li et al., ICDE 2022) for 28x28 grey images.

    conv 5x5 (1→6), ReLU, 2x2 max-pool, conv 5x5 (6→16), ReLU, 2x2 max-pool, no padding
    (28 → 24 → 12 → 8 → 4), then fc 256-120-84-10 with ReLU: 44,426 parameters
    (156 + 2,416 + 30,840 + 10,164 + 850). The layer names are NIID-Bench's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x.reshape(x.shape[0], 1, 28, 28))))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.fc1(x.reshape(x.shape[0], 16 * 4 * 4)))
        return self.fc3(torch.relu(self.fc2(x)))


MODELS: dict[str, type[nn.Module]] = {
    "logreg": LogisticRegression,
    "2nn": TwoNN,
    "cnn": CNN,
    "simple-cnn": SimpleCNN,
}


def build_model(name: str, seed: int, input_dim: int = INPUT_DIM) -> nn.Module:
    """Instantiate ``name`` with torch's default layer init, drawn from a seeded generator.

    ``input_dim`` applies to ``logreg`` (784 for MNIST, 60 for Synthetic(α, β));
    the 2NN and both CNNs are MNIST models (28x28 inputs).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    if name == "logreg":
        model: nn.Module = LogisticRegression(input_dim)
    elif input_dim != INPUT_DIM:
        raise ValueError(f"model {name!r} takes {INPUT_DIM} inputs (got input_dim={input_dim})")
    else:
        model = MODELS[name]()
    gen = torch.Generator().manual_seed(torch_seed_for(seed, "init"))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear | nn.Conv2d):
                fan_in = module.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                # kaiming_uniform(a=sqrt(5)) and the bias rule both reduce to U(-1/sqrt(fan_in), ..)
                module.weight.uniform_(-bound, bound, generator=gen)
                module.bias.uniform_(-bound, bound, generator=gen)
    return model

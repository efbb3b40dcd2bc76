"""Federations with federated evaluation: the FedProx paper's MNIST and Synthetic(α, β).

``dataset.load_federated`` hands protocols whose data is not the MNIST train
split here. Each builder returns a ``FederatedData`` whose evaluation sets are
what the protocol's federated evaluation needs, concatenated once so that the
server evaluates in one batched pass:

- ``test_x``/``test_y``: every client's held-out split, client after client, so
  accuracy over them is exactly Σ correct / Σ n over the clients' test splits;
- ``eval_train``: every client's training split, for the training loss over all
  devices' training data (the FedProx paper's Figure 1 metric).

Clients train on the same training splits (``partition.train_val_split``,
seeded by (seed, client)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fedbench import partition, synthetic
from fedbench.protocols import Protocol


def _identity(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows, dtype=np.float32)


def splits(parts: partition.Partition, seed: int, val_fraction: float):
    """(each client's training indices, each client's test indices)."""
    pairs = [partition.train_val_split(p, seed, cid, val_fraction) for cid, p in enumerate(parts)]
    return [tr for tr, _ in pairs], [te for _, te in pairs]


def build(pool: np.ndarray, labels: np.ndarray, parts: partition.Partition, preprocess,
          protocol: Protocol, seed: int, device: str = "cpu"):
    """A ``FederatedData`` over ``pool`` (raw rows), with federated evaluation sets."""
    from fedbench.dataset import FederatedData

    train_idx, test_idx = splits(parts, seed, protocol.val_fraction)
    dev = torch.device(device)
    y_all = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)).to(dev)

    def stacked(indices: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        flat = np.concatenate(indices) if len(indices) else np.zeros(0, np.int64)
        x = torch.from_numpy(preprocess(pool[flat])).to(dev)
        return x, y_all.index_select(0, torch.from_numpy(flat).to(dev))

    test_x, test_y = stacked(test_idx)
    return FederatedData(
        train_images=pool,
        train_y=y_all,
        test_x=test_x,
        test_y=test_y,
        client_train=train_idx,
        preprocess=preprocess,
        device=device,
        eval_train=stacked(train_idx),
    )


def load_mnist_all(root: str | Path, protocol: Protocol, num_clients: int, seed: int,
                   device: str = "cpu"):
    """All 70,000 MNIST images (train then test), the protocol's split and preprocessing."""
    from fedbench.dataset import client_partition, read_mnist

    tr_x, tr_y, te_x, te_y = read_mnist(root)
    images = np.concatenate([tr_x, te_x])
    labels = np.concatenate([tr_y, te_y])
    parts = client_partition(root, protocol, labels, num_clients, seed)
    return build(images, labels, parts, protocol.preprocessor(images), protocol, seed, device)


def load_synthetic(protocol: Protocol, num_clients: int, seed: int, device: str = "cpu"):
    """Synthetic(α, β) generated for ``seed`` (nothing read from disk)."""
    assert protocol.synthetic is not None
    alpha, beta, iid = protocol.synthetic
    data = synthetic.generate(alpha, beta, iid, num_clients, seed)
    return build(data.x, data.y, data.parts, _identity, protocol, seed, device)


def load(root: str | Path, protocol: Protocol, num_clients: int, seed: int, device: str = "cpu"):
    if protocol.data == "synthetic":
        return load_synthetic(protocol, num_clients, seed, device)
    if protocol.data == "mnist-all":
        return load_mnist_all(root, protocol, num_clients, seed, device)
    raise ValueError(f"protocol {protocol.name!r}: data {protocol.data!r} is not built here")


def evaluate_global(model_name: str, model: nn.Module, params: dict[str, torch.Tensor],
                    data) -> tuple[float, float, float]:
    """(test loss, test accuracy, training loss over every client's training data).

    The test metrics are over ``data.test_x``: the MNIST test set (centralized
    protocols) or every client's held-out split (federated ones). The training
    loss exists only where the protocol evaluates federatedly (NaN otherwise).
    """
    from fedbench.training import evaluate

    loss, acc = evaluate(model_name, model, params, data.test_x, data.test_y)
    eval_train = getattr(data, "eval_train", None)
    train_loss = (evaluate(model_name, model, params, *eval_train)[0]
                  if eval_train is not None else float("nan"))
    return loss, acc, train_loss


def federated_evaluate(model_name: str, model: nn.Module, params: dict[str, torch.Tensor],
                       clients: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """(mean loss, Σ correct / Σ n) over every client's (x, y), in one batched pass."""
    from fedbench.training import evaluate

    x = torch.cat([c[0] for c in clients])
    y = torch.cat([c[1] for c in clients])
    return evaluate(model_name, model, params, x, y)

"""Server-side evaluation of the global model, as the protocol defines it.

Centralized protocols evaluate on the MNIST test set; federated ones on every client's
held-out split (``FederatedData.test_x`` holds whichever the protocol uses) and add the
training loss over every client's training data (``FederatedData.eval_train``), each in
one batched pass.
"""

from __future__ import annotations

import torch
from torch import nn

from fedbench.data.federated import FederatedData
from fedbench.fl.training import evaluate


def evaluate_global(model_name: str, model: nn.Module, params: dict[str, torch.Tensor],
                    data: FederatedData) -> tuple[float, float, float]:
    """(test loss, test accuracy, training loss over every client's training data).

    The training loss exists only where the protocol evaluates federatedly (NaN otherwise).
    """
    loss, acc = evaluate(model_name, model, params, data.test_x, data.test_y)
    train_loss = (evaluate(model_name, model, params, *data.eval_train)[0]
                  if data.eval_train is not None else float("nan"))
    return loss, acc, train_loss

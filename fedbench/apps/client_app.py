"""Flower ClientApp: local SGD with the proximal term and straggler behaviour.

The server names the partition, the epochs to run and whether this client is
a straggler (see ``fedbench.fl.sampling``); the client loads its data once per
process, trains, and replies with its weights and metrics. A straggler under
FedAvg replies without an update: its work would be discarded anyway.

Message handling is kept cheap without leaving Flower's records: the global
model of a round is decoded once per process however many clients of that
round the process serves (the in-process Grid hands every client the same
``ArrayRecord``), and replies are built as ``Array`` objects whose bytes are
exactly what ``np.save`` writes, from a cached ``.npy`` header plus the
tensor's buffer (``wire.ndarray_to_array``; ``wire.array_view`` reads them back).
"""

from __future__ import annotations

import torch
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedbench.apps.federation import cached_federated
from fedbench.fl import wire
from fedbench.fl.models import build_model
from fedbench.fl.training import LocalSGD, epoch_orders, train_logreg, train_module
from fedbench.seeding import rng_for

app = ClientApp()


class InjectedClientFailure(RuntimeError):
    """Raised on purpose by the fault-injection option (tests of failing clients)."""


# --- the wire: ArrayRecord <-> tensors -----------------------------------------------------------


def to_array(tensor: torch.Tensor) -> Array:
    """``Array(tensor)`` with the same bytes, without a round trip through ``np.save``."""
    return wire.ndarray_to_array(tensor.detach().cpu().numpy())


def to_arrayrecord(params: dict[str, torch.Tensor]) -> ArrayRecord:
    record = ArrayRecord()
    for key, value in params.items():
        record[key] = to_array(value)
    return record


_GLOBAL: dict[str, object] = {"key": None, "blobs": (), "params": None}


def global_params(arrays: ArrayRecord, device: str) -> dict[str, torch.Tensor]:
    """The message's model as tensors on ``device``, decoded once per distinct record.

    Keyed by the identity of the records' byte strings (held here, so the ids stay
    valid): a new round, or a message that was serialised on its way in, decodes
    afresh. Training never writes to these tensors. The values are those of
    ``arrays.to_torch_state_dict()``, copied out of the bytes without ``np.load``.
    """
    blobs = tuple(arr.data for arr in arrays.values())
    key = (tuple(arrays.keys()), tuple(id(b) for b in blobs), device)
    if key != _GLOBAL["key"] or any(
        a is not b for a, b in zip(blobs, _GLOBAL["blobs"], strict=True)
    ):
        params = {
            k: torch.from_numpy(wire.array_view(v).copy()).to(device) for k, v in arrays.items()
        }
        _GLOBAL.update(key=key, blobs=blobs, params=params)
    return dict(_GLOBAL["params"])  # type: ignore[arg-type]


# --- training ------------------------------------------------------------------------------------


def local_update(ins: wire.TrainInstruction, params: dict[str, torch.Tensor],
                 correction: dict[str, torch.Tensor] | None = None):
    """Run one client's local training; returns (TrainResult, num_examples).

    ``correction``, when the server sends one (``wire.CORRECTION``), is added to every
    step's gradient: the client's part of SCAFFOLD, whose server keeps the control variates.
    With local momentum (``ins.momentum`` > 0) it is applied after each step, outside the
    momentum buffer, as NIID-Bench's SCAFFOLD does (``fedbench.fl.training``).
    """
    data = cached_federated(ins.data_root, ins.protocol, ins.num_clients, ins.seed, ins.device,
                            ins.partition)
    x, y = data.client(ins.partition_id)
    sgd = LocalSGD(
        lr=ins.lr,
        weight_decay=ins.weight_decay,
        batch_size=ins.batch_size or int(x.shape[0]),  # 0: the full local batch (B = ∞)
        mu=ins.proximal_mu,
        correction=correction,
        momentum=ins.momentum,
    )
    orders = epoch_orders(x.shape[0], ins.epochs, ins.seed, ins.server_round, ins.partition_id)
    params = {k: v.to(ins.device) for k, v in params.items()}
    if ins.model == "logreg":
        result = train_logreg(params, x, y, ins.epochs, sgd, orders)
    else:
        model = build_model(ins.model, ins.seed).to(ins.device)
        result = train_module(model, params, x, y, ins.epochs, sgd, orders)
    return result, int(x.shape[0])


@app.train()
def train(msg: Message, context: Context) -> Message:
    ins = wire.TrainInstruction.from_config(msg.content["config"])
    if torch.get_num_threads() != ins.threads:
        torch.set_num_threads(ins.threads)
    if (
        ins.fail_prob
        and rng_for(ins.seed, "fail", ins.server_round, ins.partition_id).random() < ins.fail_prob
    ):
        raise InjectedClientFailure(f"injected failure of client {ins.partition_id}")
    metrics = {wire.PARTITION: ins.partition_id, wire.STRAGGLER: int(ins.straggler)}
    if ins.straggler and ins.drop_straggler:
        metrics.update({wire.NUM_EXAMPLES: 0, wire.DROPPED: 1, wire.EPOCHS: 0})
        return Message(RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)
    params = global_params(msg.content["arrays"], ins.device)
    correction = None
    if wire.CORRECTION in msg.content:
        correction = {k: torch.from_numpy(wire.array_view(v).copy()).to(ins.device)
                      for k, v in msg.content[wire.CORRECTION].items()}
    result, n = local_update(ins, params, correction)
    metrics.update(
        {
            wire.NUM_EXAMPLES: n,
            wire.DROPPED: 0,
            wire.EPOCHS: ins.epochs,
            wire.TRAIN_LOSS: result.loss,
            wire.STEPS: result.steps,
        }
    )
    arrays = to_arrayrecord(result.params)
    return Message(RecordDict({"arrays": arrays, "metrics": MetricRecord(metrics)}), reply_to=msg)

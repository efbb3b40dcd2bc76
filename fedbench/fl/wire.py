"""The wire format between ServerApp and ClientApp: what a client is asked to do.

Everything a ClientApp needs travels in the message's ConfigRecord, so the
ClientApp is stateless and behaves the same under the in-process Grid, Flower's
Simulation Engine, or a real deployment. One dataclass, two directions.

Models travel as Flower ``Array`` objects whose bytes are an ``.npy`` file
(``SType.NUMPY``). ``ndarray_to_array`` and ``array_view`` write and read those
bytes directly, from a cached ``.npy`` header: the same bytes ``np.save``
writes and the same values ``np.load`` reads, without the round trip through
either (``np.load`` parses every header with ``ast``).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, fields

import numpy as np
from flwr.app import Array, ConfigRecord


@dataclass(frozen=True)
class TrainInstruction:
    # which data: the dataset identity and the client's partition
    data_root: str
    protocol: str
    num_clients: int
    seed: int
    partition_id: int
    # what to do with it
    model: str
    epochs: int
    straggler: bool
    drop_straggler: bool  # FedAvg: a straggler's update is discarded, so it need not train
    lr: float
    weight_decay: float
    batch_size: int  # 0: the client's whole data set is one batch (B = ∞)
    proximal_mu: float
    server_round: int
    device: str = "cpu"
    threads: int = 1
    fail_prob: float = 0.0  # test-only fault injection
    # the partition's label (``fedbench.data.partitions``); "": the protocol's own split
    partition: str = ""
    momentum: float = 0.0  # local SGD's heavy-ball momentum (0: plain SGD)

    def to_config(self) -> ConfigRecord:
        return ConfigRecord({k.replace("_", "-"): v for k, v in asdict(self).items()})

    @classmethod
    def from_config(cls, record: ConfigRecord) -> TrainInstruction:
        values = dict(record.items())  # one dict copy instead of 2 record look-ups per field
        return cls(**{name: values[key] for name, key in _WIRE_KEYS.items() if key in values})


_WIRE_KEYS = {f.name: f.name.replace("_", "-") for f in fields(TrainInstruction)}


def with_fields(record: ConfigRecord, **changes: object) -> ConfigRecord:
    """A copy of an instruction's ``record`` with some of its fields changed.

    With ``record = ins.to_config()`` this equals ``replace(ins, **changes).to_config()``
    (the same keys in the same order, the same values), but costs a dict copy and one
    type-checked assignment per changed field instead of building and checking the
    whole record: a round sends many instructions that differ in a few fields only.
    Keys of ``record`` that are not instruction fields are kept. The copy is shallow:
    it has its own dict, but shares the values, which are immutable scalars for every
    instruction field (a list among the extra keys would be shared).
    """
    copy = record.copy()
    for name, value in changes.items():
        copy[_WIRE_KEYS[name]] = value  # KeyError: not a TrainInstruction field
    return copy


# Keys of the MetricRecord a ClientApp replies with.
NUM_EXAMPLES = "num-examples"
PARTITION = "partition-id"
STRAGGLER = "straggler"
DROPPED = "dropped"
EPOCHS = "epochs"
TRAIN_LOSS = "train-loss"
STEPS = "local-steps"  # SGD steps the client ran (FedNova's τ_i, SCAFFOLD's K)
# Key of the optional ArrayRecord sent with an instruction: a term added to every local
# gradient step (SCAFFOLD's c − c_i), one array per model parameter.
CORRECTION = "correction"


# --- arrays on the wire: Array <-> numpy, with the bytes np.save writes ---------------------------

NPY = "numpy.ndarray"  # flwr's SType.NUMPY: the Array's bytes are an .npy file

_NPY_HEADERS: dict[tuple[np.dtype, tuple[int, ...]], tuple[str, bytes]] = {}


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> tuple[str, bytes]:
    """``(str(dtype), header)``: the bytes ``np.save`` writes before a C-ordered array's data.

    Cached per (dtype, shape); ``str(dtype)`` is cached with it (numpy computes it in Python).
    """
    key = (dtype, shape)
    if key not in _NPY_HEADERS:
        probe = np.zeros(shape, dtype=dtype)
        buf = io.BytesIO()
        np.save(buf, probe, allow_pickle=False)
        blob = buf.getvalue()
        _NPY_HEADERS[key] = (str(dtype), blob[: len(blob) - probe.nbytes])
    return _NPY_HEADERS[key]


def ndarray_to_array(nd: np.ndarray) -> Array:
    """``Array(nd)`` with the same bytes, without a round trip through ``np.save``."""
    if not nd.flags.c_contiguous:
        nd = np.ascontiguousarray(nd)  # (only when needed: it would turn a 0-d array into 1-d)
    name, header = npy_header(nd.dtype, nd.shape)
    return Array(dtype=name, shape=tuple(nd.shape), stype=NPY, data=header + nd.tobytes())


_VIEWS: dict[tuple[str, tuple[int, ...]], tuple[np.dtype, bytes, int]] = {}


def array_view(arr: Array) -> np.ndarray:
    """``arr.numpy()``'s values as a read-only view of ``arr.data`` (no copy, no ``np.load``).

    Used when the bytes are exactly what ``ndarray_to_array``/``np.save`` writes for a
    C-ordered array of ``arr``'s dtype and shape; anything else goes through ``arr.numpy()``.
    """
    if arr.stype == NPY:
        shape = tuple(arr.shape)
        key = (arr.dtype, shape)
        if key not in _VIEWS:
            dtype = np.dtype(arr.dtype)
            _, header = npy_header(dtype, shape)
            _VIEWS[key] = (dtype, header, len(header) + dtype.itemsize * math.prod(shape))
        dtype, header, size = _VIEWS[key]
        data = arr.data
        if isinstance(data, bytes) and len(data) == size and data.startswith(header):
            return np.frombuffer(data, dtype=dtype, offset=len(header)).reshape(shape)
    return arr.numpy()

"""Strategy spec: fedbench's cheap message building and averaging are Flower's, bit for bit.

The strategies build each round's ConfigRecords from a cached, round-constant record
(``wire.with_fields``) and average the replies from views of their bytes
(``fedbench.fl.aggregation.average_arrays``, ``wire.array_view``) instead of
``np.load``/``np.save``.
These tests pin both against what they replaced: ``TrainInstruction.to_config`` per
message, and Flower's own ``FedAvg.aggregate_train`` / ``aggregate_arrayrecords`` /
``aggregate_metricrecords``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp.strategy import FedAvg
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords, aggregate_metricrecords
from flwr.supercore.task_identity import TaskIdentity

from fedbench.algorithms import get_algorithm, names
from fedbench.algorithms.base import ReproducibleRounds
from fedbench.algorithms.fedavg import StragglerDroppingFedAvg
from fedbench.algorithms.fedprox import PartialWorkFedProx
from fedbench.fl import wire
from fedbench.fl.aggregation import average_arrays, average_metrics
from fedbench.fl.sampling import plan_round

TEMPLATE = wire.TrainInstruction(
    data_root="resources",
    protocol="flower-baseline",
    num_clients=50,
    seed=3,
    partition_id=-1,
    model="logreg",
    epochs=5,
    straggler=False,
    drop_straggler=False,
    lr=0.03,
    weight_decay=0.001,
    batch_size=10,
    proximal_mu=0.0,
    server_round=0,
)
PER_ROUND = 10


MU = 2.0  # the proximal term of the algorithms that have one


def make_strategy(kind: str, fail_prob: float = 0.0):
    """Algorithm ``kind``'s strategy, through the registry (μ = MU where it has a μ)."""
    algorithm = get_algorithm(kind)
    return algorithm.make_strategy(
        TEMPLATE, per_round=PER_ROUND, straggler_rate=0.5, straggler_rule="bernoulli",
        mu=MU if algorithm.uses_mu else 0.0, fail_prob=fail_prob,
    )


def test_the_registry_builds_each_algorithms_strategy_class() -> None:
    assert type(make_strategy("fedavg")) is StragglerDroppingFedAvg
    assert type(make_strategy("fedprox")) is PartialWorkFedProx
    assert make_strategy("fedprox").template.proximal_mu == MU
    direct = PartialWorkFedProx(TEMPLATE, per_round=PER_ROUND, straggler_rate=0.5, mu=MU)
    assert direct.template == make_strategy("fedprox").template


class Nodes:
    """The one thing ``configure_train`` asks of a Grid: its node ids."""

    def get_node_ids(self) -> list[int]:
        return list(range(1, 8))


@pytest.fixture(autouse=True)
def task_identity():
    """Flower's ``Message`` needs the process's run id, as under a real runtime."""
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, SUPERLINK_NODE_ID
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def as_items(record: ConfigRecord) -> list[tuple[str, type, object]]:
    """A ConfigRecord's content, in order, with each value's type (True is not 1 here)."""
    return [(k, type(v), v) for k, v in record.items()]


def old_config(strategy, server_round: int, task, extras: ConfigRecord) -> ConfigRecord:
    """How ``configure_train`` built a message's ConfigRecord before: a 17-key to_config each."""
    ins = replace(
        strategy.template,
        partition_id=task.partition,
        epochs=task.epochs,
        straggler=task.straggler,
        drop_straggler=strategy.drop_stragglers,
        server_round=server_round,
        fail_prob=strategy.fail_prob,
    )
    cfg = ins.to_config()
    for key, value in extras.items():
        cfg.setdefault(key, value)
    cfg["server-round"] = server_round
    return cfg


# --- configure_train: the cached ConfigRecord ----------------------------------------------------


@pytest.mark.parametrize("kind", names())
@pytest.mark.parametrize("fail_prob", [0.0, 0.25])
def test_each_message_carries_exactly_what_to_config_built(kind: str, fail_prob: float) -> None:
    strategy = make_strategy(kind, fail_prob)
    arrays = ArrayRecord({"w": Array(np.arange(6, dtype=np.float32))})
    extras = ConfigRecord({"proximal-mu": 99.0, "extra-key": "kept"})  # the first is not used
    for server_round in (1, 2, 7):
        tasks = plan_round(TEMPLATE.seed, server_round, TEMPLATE.num_clients, PER_ROUND,
                           TEMPLATE.epochs, 0.5, "bernoulli")
        messages = list(strategy.configure_train(server_round, arrays, extras, Nodes()))
        assert len(messages) == len(tasks) == PER_ROUND
        for msg, task in zip(messages, tasks, strict=True):
            cfg = msg.content["config"]
            assert as_items(cfg) == as_items(old_config(strategy, server_round, task, extras))
            assert msg.content["arrays"] is arrays
            assert msg.metadata.dst_node_id == 1 + task.partition % 7
            assert msg.metadata.group_id == str(server_round)


def test_the_client_reads_back_the_instruction_it_was_sent() -> None:
    strategy = make_strategy("fedprox")
    arrays = ArrayRecord()
    tasks = plan_round(TEMPLATE.seed, 4, TEMPLATE.num_clients, PER_ROUND, TEMPLATE.epochs, 0.5,
                       "bernoulli")
    messages = strategy.configure_train(4, arrays, ConfigRecord(), Nodes())
    for msg, task in zip(messages, tasks, strict=True):
        expected = replace(TEMPLATE, partition_id=task.partition, epochs=task.epochs,
                           straggler=task.straggler, server_round=4, proximal_mu=MU)
        assert wire.TrainInstruction.from_config(msg.content["config"]) == expected


def test_messages_share_no_config_record_with_each_other_or_later_rounds() -> None:
    strategy = make_strategy("fedavg")
    first = list(strategy.configure_train(1, ArrayRecord(), ConfigRecord(), Nodes()))
    before = [as_items(m.content["config"]) for m in first]
    first[0].content["config"]["lr"] = 123.0  # a receiver that writes into its record
    second = list(strategy.configure_train(2, ArrayRecord(), ConfigRecord(), Nodes()))
    assert len({id(m.content["config"]) for m in first + second}) == 2 * PER_ROUND
    assert [as_items(m.content["config"]) for m in first[1:]] == before[1:]
    assert all(m.content["config"]["lr"] == TEMPLATE.lr for m in second)
    assert all(m.content["config"]["server-round"] == 2 for m in second)


def test_a_new_template_is_picked_up() -> None:
    strategy = make_strategy("fedavg")
    list(strategy.configure_train(1, ArrayRecord(), ConfigRecord(), Nodes()))
    strategy.template = replace(strategy.template, lr=0.5)
    messages = strategy.configure_train(2, ArrayRecord(), ConfigRecord(), Nodes())
    assert all(m.content["config"]["lr"] == 0.5 for m in messages)


def test_with_fields_rejects_a_name_that_is_not_an_instruction_field() -> None:
    with pytest.raises(KeyError):
        wire.with_fields(TEMPLATE.to_config(), no_such_field=1)


# --- aggregate_train: Flower's averaging, bit for bit -------------------------------------------


def random_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Float32 arrays of assorted shapes and magnitudes (what rounding differences show on)."""
    return {
        "fc.weight": (rng.standard_normal((10, 784)) * 10.0 ** rng.integers(-4, 4)).astype(
            np.float32
        ),
        "fc.bias": rng.standard_normal(10).astype(np.float32),
        "scale": np.asarray(rng.standard_normal(), dtype=np.float32),  # a 0-d array
        "conv": rng.uniform(-1e3, 1e3, (4, 3, 5)).astype(np.float32),
    }


def reply_content(rng: np.random.Generator, partition: int, examples: int, dropped: int = 0,
                  straggler: int = 0) -> RecordDict:
    """A ClientApp's reply, as fedbench's ClientApp builds it (np.save bytes, six metrics)."""
    metrics = MetricRecord({
        wire.PARTITION: partition,
        wire.STRAGGLER: straggler,
        wire.NUM_EXAMPLES: examples,
        wire.DROPPED: dropped,
        wire.EPOCHS: 5,
        wire.TRAIN_LOSS: float(rng.uniform(0.1, 3.0)),
    })
    if dropped:
        return RecordDict({"metrics": metrics})
    arrays = ArrayRecord({k: wire.ndarray_to_array(v) for k, v in random_params(rng).items()})
    return RecordDict({"arrays": arrays, "metrics": metrics})


def assert_same_arrays(ours: ArrayRecord, flowers: ArrayRecord) -> None:
    assert list(ours.keys()) == list(flowers.keys())
    for key in flowers:
        a, b = ours[key], flowers[key]
        assert (a.dtype, tuple(a.shape), a.stype) == (b.dtype, tuple(b.shape), b.stype), key
        assert a.data == b.data, key  # the same .npy bytes: the same bits


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("replies", [1, 2, 10])
def test_array_average_is_flowers_aggregate_arrayrecords_bit_for_bit(
    seed: int, replies: int
) -> None:
    rng = np.random.default_rng(seed)
    examples = rng.integers(1, 3300, size=replies)  # client sizes here run from 1 to ~3,300
    contents = [reply_content(rng, i, int(n)) for i, n in enumerate(examples)]
    factors = [int(n) / int(examples.sum()) for n in examples]
    ours = average_arrays([c["arrays"] for c in contents], factors)
    expected = aggregate_arrayrecords(contents, wire.NUM_EXAMPLES)
    assert_same_arrays(ArrayRecord({k: wire.ndarray_to_array(v) for k, v in ours.items()}),
                       expected)


@pytest.mark.parametrize("seed", range(3))
def test_metric_average_is_flowers_aggregate_metricrecords(seed: int) -> None:
    rng = np.random.default_rng(seed)
    records = [RecordDict({"metrics": MetricRecord({
        wire.NUM_EXAMPLES: int(rng.integers(1, 500)),
        "loss": float(rng.uniform(0, 5)),
        "count": int(rng.integers(0, 9)),
        "curve": [float(x) for x in rng.uniform(0, 1, 4)],
    })}) for _ in range(7)]
    weights = [r["metrics"][wire.NUM_EXAMPLES] for r in records]
    factors = [w / sum(weights) for w in weights]
    ours = average_metrics([r["metrics"] for r in records], factors, wire.NUM_EXAMPLES)
    expected = aggregate_metricrecords(records, wire.NUM_EXAMPLES)
    assert list(ours.items()) == list(expected.items())


def _averaging() -> list[str]:
    """The algorithms whose new model is FedAvg's weighted average of the kept replies (the
    others run a server optimiser or a normalisation on it: tests/test_algorithms.py)."""
    return [n for n in names()
            if get_algorithm(n).strategy.aggregate_kept is ReproducibleRounds.aggregate_kept]


@pytest.mark.parametrize("kind", _averaging())
@pytest.mark.parametrize("seed", range(3))
def test_aggregate_train_returns_what_flowers_fedavg_returns_on_the_sorted_kept_replies(
    kind: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    partitions = rng.permutation(40)[:PER_ROUND]  # replies arrive in any order
    contents = [
        reply_content(rng, int(p), int(rng.integers(1, 3300)), dropped=int(i % 4 == 1),
                      straggler=int(i % 4 == 1))
        for i, p in enumerate(partitions)
    ]
    replies = [Message(c, dst_node_id=1, message_type=MessageType.TRAIN) for c in contents]
    strategy = make_strategy(kind)
    arrays, metrics = strategy.aggregate_train(1, replies)

    kept = sorted((m for m in replies if not m.content["metrics"][wire.DROPPED]),
                  key=lambda m: m.content["metrics"][wire.PARTITION])
    expected_arrays, expected_metrics = FedAvg(fraction_evaluate=0.0).aggregate_train(1, kept)
    assert_same_arrays(arrays, expected_arrays)
    assert list(metrics.items()) == list(expected_metrics.items())


def test_array_view_reads_what_numpy_reads_and_falls_back_for_other_layouts() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    for arr in (
        wire.ndarray_to_array(x),
        Array(x),  # Flower's own np.save bytes
        Array(np.asfortranarray(x)),  # a Fortran-ordered .npy: decoded by np.load instead
        Array(x.astype(">f4")),  # big-endian
        Array(np.asarray(np.float32(1.5))),  # 0-d
    ):
        view = wire.array_view(arr)
        expected = arr.numpy()
        assert view.dtype == expected.dtype and view.shape == expected.shape
        assert view.tobytes() == expected.tobytes()


def test_ndarray_to_array_writes_the_bytes_np_save_writes() -> None:
    for x in (np.ones((10, 784), np.float32), np.arange(10, dtype=np.float64),
              np.asarray(np.float32(2.0)), np.ones((3, 4), np.float32)[:, 1:]):
        ours, flowers = wire.ndarray_to_array(x), Array(x.copy())  # .copy(): C order
        assert (ours.dtype, tuple(ours.shape), ours.stype, ours.data) == (
            flowers.dtype, tuple(flowers.shape), flowers.stype, flowers.data)

"""The algorithms FedProx is compared with: each update rule against a hand computation,
the degenerate cases that must be FedAvg, and their state across a checkpoint.

The hand computations use two or three clients with two-element models, so every expected
value below can be checked on paper; they are written from the papers' equations, not from
the modules' code.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
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
from flwr.supercore.task_identity import TaskIdentity
from pydantic import ValidationError

from fedbench.algorithms import get_algorithm
from fedbench.algorithms.fednova import step_norm
from fedbench.fl import wire
from tests.conftest import kill_after_first_checkpoint, tiny_experiment

TEMPLATE = wire.TrainInstruction(
    data_root="resources", protocol="flower-baseline", num_clients=4, seed=0, partition_id=-1,
    model="logreg", epochs=2, straggler=False, drop_straggler=False, lr=0.1, weight_decay=0.0,
    batch_size=10, proximal_mu=0.0, server_round=0,
)


class Nodes:
    def get_node_ids(self):
        return list(range(1, 5))


def strategy(name: str, template: wire.TrainInstruction = TEMPLATE, **params):
    return get_algorithm(name).make_strategy(
        template, per_round=2, straggler_rate=0.0, straggler_rule="bernoulli", mu=0.0,
        params=params)


def reply(partition: int, y, examples: int, steps: int) -> Message:
    metrics = MetricRecord({wire.PARTITION: partition, wire.STRAGGLER: 0, wire.DROPPED: 0,
                            wire.NUM_EXAMPLES: examples, wire.EPOCHS: 2,
                            wire.TRAIN_LOSS: 0.5, wire.STEPS: steps})
    arrays = ArrayRecord({"w": Array(np.asarray(y, dtype=np.float32))})
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), dst_node_id=1,
                   message_type=MessageType.TRAIN)


def run_round(s, server_round: int, x, replies) -> np.ndarray:
    """configure_train at model x (what the server does first), then aggregate ``replies``."""
    messages = list(s.configure_train(server_round, ArrayRecord(
        {"w": Array(np.asarray(x, dtype=np.float32))}), s_config(), Nodes()))
    assert len(messages) == 2
    s._sent[server_round] = len(replies)
    arrays, _ = s.aggregate_train(server_round, replies)
    return arrays["w"].numpy()


def s_config() -> ConfigRecord:
    return ConfigRecord()


@pytest.fixture(autouse=True)
def server_identity():
    """Messages are created as the SuperLink would create them (Flower requires it)."""
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, SUPERLINK_NODE_ID
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


X0 = np.array([1.0, 2.0], dtype=np.float32)
# two clients: y1 = [0, 0] with 1 example, y2 = [2, 2] with 3: the weighted average is [1.5, 1.5]
def round1() -> list[Message]:
    return [reply(0, [0.0, 0.0], 1, 4), reply(1, [2.0, 2.0], 3, 4)]
AVG1 = np.array([1.5, 1.5])


# --- FedAvgM (Hsu et al. 2019): v <- beta v + (x - avg), x <- x - eta v -------------------------


def test_fedavgm_applies_server_momentum_to_the_averaged_change() -> None:
    s = strategy("fedavgm", server_lr=0.5, server_momentum=0.9)
    x1 = run_round(s, 1, X0, round1())
    v1 = X0 - AVG1  # [-0.5, 0.5]
    np.testing.assert_allclose(x1, X0 - 0.5 * v1, rtol=0, atol=1e-6)  # [1.25, 1.75]
    round2 = [reply(2, [1.0, 1.0], 1, 4), reply(3, [1.0, 1.0], 1, 4)]
    x2 = run_round(s, 2, x1, round2)
    v2 = 0.9 * v1 + (x1 - np.array([1.0, 1.0]))
    np.testing.assert_allclose(x2, x1 - 0.5 * v2, rtol=0, atol=1e-6)


def test_fedavgm_without_momentum_and_with_server_lr_1_is_fedavg_bit_for_bit() -> None:
    s = strategy("fedavgm", server_lr=1.0, server_momentum=0.0)
    assert np.array_equal(run_round(s, 1, X0, round1()),
                          run_round(strategy("fedavg"), 1, X0, round1()))


# --- FedAdam / FedYogi / FedAdagrad (Reddi et al. 2021, Algorithm 2) -----------------------------


@pytest.mark.parametrize("name", ["fedadam", "fedyogi", "fedadagrad"])
def test_adaptive_servers_follow_algorithm_2(name: str) -> None:
    eta, b1, b2, tau = 0.1, 0.9, 0.99, 1e-3
    s = strategy(name, server_lr=eta, beta1=b1, beta2=b2, tau=tau)

    def second(v, delta):
        return {"fedadam": b2 * v + (1 - b2) * delta**2,
                "fedyogi": v - (1 - b2) * delta**2 * np.sign(v - delta**2),
                "fedadagrad": v + delta**2}[name]

    x, m, v = X0.astype(np.float64), np.zeros(2), np.full(2, tau**2)  # m_-1 = 0, v_-1 = tau^2
    rounds = [round1(), [reply(2, [0.5, 3.0], 2, 4), reply(3, [1.5, 1.0], 2, 4)]]
    averages = [AVG1, np.array([1.0, 2.0])]
    for r, (replies, avg) in enumerate(zip(rounds, averages, strict=True), start=1):
        got = run_round(s, r, x.astype(np.float32), replies)
        delta = avg - x
        m = b1 * m + (1 - b1) * delta
        v = second(v, delta)
        x = x + eta * m / (np.sqrt(v) + tau)
        np.testing.assert_allclose(got, x, rtol=1e-5, atol=1e-6)
        x = got.astype(np.float64)  # the next round starts from what the server sent


@pytest.mark.parametrize("name", ["fedavgm", "fedadam", "fedyogi", "fedadagrad", "scaffold"])
@pytest.mark.parametrize("bad", [{"server_lr": -0.1}, {"server_lr": 0.0},
                                 {"server_momentum": 1.0}, {"beta1": 1.0}, {"beta2": -0.1},
                                 {"tau": 0.0}, {"nesterov": 1.0}])
def test_bad_hyperparameters_are_refused_naming_the_key(name: str, bad: dict) -> None:
    allowed = set(get_algorithm(name).hyperparameters.model_fields)
    key = next(iter(bad))
    with pytest.raises(ValidationError) as err:
        strategy(name, **bad)
    assert key in str(err.value)
    if key in allowed:
        assert "greater than" in str(err.value) or "less than" in str(err.value)
    else:
        assert "Extra inputs are not permitted" in str(err.value)


# --- SCAFFOLD (Karimireddy et al. 2020, Algorithm 1, option II) ---------------------------------


def test_scaffold_updates_the_control_variates_by_option_ii() -> None:
    s = strategy("scaffold")  # eta_g = 1; N = 4 clients, lr 0.1
    assert s.client_records(0) is None  # c = c_i = 0: nothing to correct in the first round
    x1 = run_round(s, 1, X0, round1())
    assert np.array_equal(x1, AVG1.astype(np.float32))
    # c_i+ = c_i - c + (x - y_i) / (K_i lr), with c = c_i = 0 and K = 4
    c0 = (X0 - np.array([0.0, 0.0])) / (4 * 0.1)  # [2.5, 5.0]
    c1 = (X0 - np.array([2.0, 2.0])) / (4 * 0.1)  # [-2.5, 0.0]
    c = (c0 + c1) / 4  # c + (1/N) sum of the changes: [0, 1.25]
    np.testing.assert_allclose(s.c_i[0]["w"], c0, rtol=1e-6)
    np.testing.assert_allclose(s.c_i[1]["w"], c1, rtol=1e-6)
    np.testing.assert_allclose(s.c["w"], c, rtol=1e-6)
    # round 2: each client is sent c - c_i, and a client never seen gets c
    np.testing.assert_allclose(s.client_records(0)["w"].numpy(), c - c0, rtol=1e-6)
    np.testing.assert_allclose(s.client_records(3)["w"].numpy(), c, rtol=1e-6)
    # client 1 trains again, with 2 steps (a straggler's fewer steps count as they are)
    x2 = run_round(s, 2, x1, [reply(1, [1.0, 1.0], 3, 2)])
    c1_new = c1 - c + (x1 - np.array([1.0, 1.0])) / (2 * 0.1)
    np.testing.assert_allclose(s.c_i[1]["w"], c1_new, rtol=1e-5)
    np.testing.assert_allclose(s.c["w"], c + (c1_new - c1) / 4, rtol=1e-5)
    np.testing.assert_allclose(x2, [1.0, 1.0], rtol=0, atol=0)


def test_scaffold_global_learning_rate_scales_the_averaged_change() -> None:
    s = strategy("scaffold", server_lr=0.5)
    np.testing.assert_allclose(run_round(s, 1, X0, round1()), X0 + 0.5 * (AVG1 - X0), atol=1e-6)


def test_scaffold_state_round_trips_through_a_checkpoint() -> None:
    s = strategy("scaffold")
    run_round(s, 1, X0, round1())
    restored = strategy("scaffold")
    restored.load_state_arrays(s.state_arrays())
    assert restored.c_i.keys() == s.c_i.keys()
    for pid in s.c_i:
        assert np.array_equal(restored.c_i[pid]["w"], s.c_i[pid]["w"])
    assert np.array_equal(restored.c["w"], s.c["w"])


# --- FedNova (Wang et al. 2020, equations (6)-(7)) -----------------------------------------------


def test_fednova_normalises_each_change_by_its_local_steps() -> None:
    s = strategy("fednova")  # plain SGD: ||a_i||_1 = tau_i
    x = np.array([1.0, 1.0], dtype=np.float32)
    replies = [reply(0, [0.0, 0.0], 2, 4), reply(1, [3.0, 1.0], 2, 2)]
    # p = (1/2, 1/2); d = 1/2 (x - y1)/4 + 1/2 (x - y2)/2 = [-0.375, 0.125]; tau_eff = 3
    np.testing.assert_allclose(run_round(s, 1, x, replies), [2.125, 0.625], atol=1e-6)
    plain_average = np.array([1.5, 0.5])  # what FedAvg keeping partial work would give
    assert not np.allclose(run_round(strategy("fednova"), 1, x, replies), plain_average)


def test_fednova_step_norm_with_decay_is_the_geometric_sum() -> None:
    assert step_norm(5, 0.1, 0.0, 0.0) == 5
    rho = 1 - 0.1 * (0.01 + 0.5)
    assert step_norm(3, 0.1, 0.01, 0.5) == pytest.approx(1 + rho + rho**2, rel=1e-12)
    s = strategy("fednova", replace(TEMPLATE, weight_decay=0.01))
    x = np.array([1.0, 1.0], dtype=np.float32)
    a1, a2 = step_norm(4, 0.1, 0.01, 0.0), step_norm(2, 0.1, 0.01, 0.0)
    d = 0.5 * (x - np.array([0.0, 0.0])) / a1 + 0.5 * (x - np.array([3.0, 1.0])) / a2
    expected = x - (0.5 * a1 + 0.5 * a2) * d
    got = run_round(s, 1, x, [reply(0, [0.0, 0.0], 2, 4), reply(1, [3.0, 1.0], 2, 2)])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_fednova_with_equal_local_steps_is_fedavg_bit_for_bit() -> None:
    replies = [reply(0, [0.25, 0.0], 1, 3), reply(1, [2.0, 2.75], 3, 3)]
    assert np.array_equal(run_round(strategy("fednova"), 1, X0, replies),
                          run_round(strategy("fedavg"), 1, X0, replies))


# --- whole runs: the degenerate cases, determinism, resume ---------------------------------------


def _rounds(out: Path) -> list[dict]:
    with (out / "rounds.csv").open() as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _run(config: Path, out: Path, algorithm: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fedbench.cli", "run", "--config", str(config), "--out",
           str(out), "--algorithm", algorithm, "--quiet", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, mnist_root: Path) -> Path:
    path = tmp_path_factory.mktemp("algorithms") / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_experiment(
        mnist_root, federation={"rounds": 4}, runtime={"checkpoint_every": 2})))
    return path


@pytest.mark.slow
def test_scaffold_first_round_is_fedavgs(tiny: Path, tmp_path: Path) -> None:
    """Zero control variates and eta_g = 1: round 1 is FedAvg keeping partial work
    (FedProx mu=0) bit for bit; from round 2 the corrections make it differ."""
    assert _run(tiny, tmp_path / "scaffold", "scaffold", "--stragglers", "0.5").returncode == 0
    assert _run(tiny, tmp_path / "avg", "fedprox", "--mu", "0", "--stragglers",
                "0.5").returncode == 0
    ours, fedavg = _rounds(tmp_path / "scaffold"), _rounds(tmp_path / "avg")
    assert ours[:2] == fedavg[:2]
    assert ours[2:] != fedavg[2:]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scaffold", "fednova", "fedadam", "fedyogi", "fedadagrad",
                                  "fedavgm"])
def test_the_same_seed_twice_gives_the_same_numbers(tiny: Path, tmp_path: Path,
                                                    name: str) -> None:
    for out in ("a", "b"):
        assert _run(tiny, tmp_path / out, name, "--stragglers", "0.5").returncode == 0
    assert _rounds(tmp_path / "a") == _rounds(tmp_path / "b")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scaffold", "fedadam", "fedavgm"])
def test_sigkill_and_resume_equals_an_uninterrupted_run_server_state_included(
        mnist_root: Path, tmp_path: Path, name: str) -> None:
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump(tiny_experiment(
        mnist_root, federation={"rounds": 150}, runtime={"checkpoint_every": 5})))
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(config, reference, name, "--stragglers", "0.5").returncode == 0
    cmd = [sys.executable, "-m", "fedbench.cli", "run", "--config", str(config), "--out",
           str(killed), "--algorithm", name, "--stragglers", "0.5", "--quiet"]
    ckpt = kill_after_first_checkpoint(cmd, killed)
    with np.load(ckpt) as z:
        assert any(k.startswith("strategy/") for k in z.files)  # the server state is in it
    assert _run(config, killed, name, "--stragglers", "0.5").returncode == 0
    assert _rounds(killed) == _rounds(reference)


@pytest.mark.slow
@pytest.mark.ray
def test_scaffold_gives_the_same_numbers_in_process_and_on_ray(tiny: Path,
                                                               tmp_path: Path) -> None:
    for backend in ("inprocess", "ray"):
        done = _run(tiny, tmp_path / backend, "scaffold", "--stragglers", "0.5",
                    "--backend", backend, "--rounds", "3")
        assert done.returncode == 0, done.stderr
    assert _rounds(tmp_path / "inprocess") == _rounds(tmp_path / "ray")

"""`fedbench run`: one Flower cell end to end — outputs, determinism, algorithms, backends."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from fedbench.cli import main
from tests.conftest import tiny_experiment

TIMING = {"seconds"}


def _run(config: Path, out: Path, *extra: str) -> dict:
    code = main(["run", "--config", str(config), "--out", str(out), "--quiet", *extra])
    assert code == 0
    return json.loads((out / "run.json").read_text())


def _rounds(out: Path) -> list[dict]:
    with (out / "rounds.csv").open() as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def test_outputs_have_one_row_per_round_and_a_resolved_config(
    tiny_config: Path, tmp_path: Path
) -> None:
    run = _run(
        tiny_config,
        tmp_path / "a",
        "--algorithm",
        "fedprox",
        "--mu",
        "2",
        "--stragglers",
        "0.5",
        "--seed",
        "1",
    )
    rows = _rounds(tmp_path / "a")
    assert [int(r["round"]) for r in rows] == [0, 1, 2, 3]
    assert list(rows[0]) == [
        "round",
        "test_loss",
        "test_accuracy",
        "sampled",
        "n_stragglers",
        "dropped",
        "failed",
        "examples",
        "train_loss",
        "global_train_loss",
    ]
    assert all(int(r["sampled"]) == 5 for r in rows[1:])
    assert run["status"] == "ok"
    assert run["config"]["mu"] == 2.0 and run["config"]["stragglers"] == 0.5
    assert run["config"]["seed"] == 1 and run["config"]["federation"]["rounds"] == 3
    assert run["final"]["round"] == 3
    assert float(rows[-1]["test_accuracy"]) == run["final"]["test_accuracy"]
    assert {"fedbench", "flwr", "torch"} <= set(run["versions"])
    assert not list((tmp_path / "a").glob(".*tmp*"))  # no temporary files left behind


def test_same_cell_twice_gives_identical_rounds(tiny_config: Path, tmp_path: Path) -> None:
    args = ("--algorithm", "fedprox", "--mu", "1", "--stragglers", "0.5")
    _run(tiny_config, tmp_path / "a", *args)
    _run(tiny_config, tmp_path / "b", *args)
    assert _rounds(tmp_path / "a") == _rounds(tmp_path / "b")


def test_options_override_the_config_file(tiny_config: Path, tmp_path: Path) -> None:
    run = _run(tiny_config, tmp_path / "a", "--rounds", "2", "--algorithm", "fedavg")
    assert run["config"]["federation"]["rounds"] == 2 and run["config"]["algorithm"] == "fedavg"
    assert len(_rounds(tmp_path / "a")) == 3


def test_fedprox_with_mu_zero_and_no_stragglers_equals_fedavg(
    tiny_config: Path, tmp_path: Path
) -> None:
    _run(tiny_config, tmp_path / "avg", "--algorithm", "fedavg", "--stragglers", "0")
    _run(tiny_config, tmp_path / "prox", "--algorithm", "fedprox", "--mu", "0", "--stragglers", "0")
    assert _rounds(tmp_path / "avg") == _rounds(tmp_path / "prox")


def test_fedavg_with_only_stragglers_keeps_the_initial_model(
    tiny_config: Path, tmp_path: Path
) -> None:
    _run(tiny_config, tmp_path / "avg", "--algorithm", "fedavg", "--stragglers", "1.0")
    rows = _rounds(tmp_path / "avg")
    assert {r["test_accuracy"] for r in rows} == {rows[0]["test_accuracy"]}
    assert all(int(r["dropped"]) == 5 and int(r["examples"]) == 0 for r in rows[1:])


def test_fedprox_with_only_stragglers_still_learns(tiny_config: Path, tmp_path: Path) -> None:
    _run(
        tiny_config, tmp_path / "prox", "--algorithm", "fedprox", "--mu", "0", "--stragglers", "1.0"
    )
    rows = _rounds(tmp_path / "prox")
    assert rows[-1]["test_accuracy"] != rows[0]["test_accuracy"]
    assert all(int(r["n_stragglers"]) == 5 and int(r["dropped"]) == 0 for r in rows[1:])


def test_algorithms_of_one_seed_see_the_same_clients_and_stragglers(mnist_root: Path) -> None:
    from flwr.app import ArrayRecord, ConfigRecord

    from fedbench.apps.backends.inprocess import InProcessGrid
    from fedbench.apps.server_app import make_strategy
    from fedbench.config import validate_run_config

    base = tiny_experiment(mnist_root)
    plans = []
    for algorithm, mu in [("fedavg", 0.0), ("fedprox", 0.0), ("fedprox", 2.0)]:
        cfg = validate_run_config({**base, "algorithm": algorithm, "mu": mu, "stragglers": 0.5})
        strategy = make_strategy(cfg)
        grid = InProcessGrid(client_app=None, num_nodes=20)  # type: ignore[arg-type]
        plan = []
        for rnd in (1, 2, 3):
            for msg in strategy.configure_train(rnd, ArrayRecord(), ConfigRecord(), grid):
                c = msg.content["config"]
                plan.append((rnd, c["partition-id"], c["epochs"], c["straggler"]))
        plans.append(plan)
    assert plans[0] == plans[1] == plans[2]


@pytest.mark.slow
@pytest.mark.ray
def test_inprocess_and_ray_backends_give_identical_metrics(
    tiny_config: Path, tmp_path: Path
) -> None:
    args = ("--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.5")
    _run(tiny_config, tmp_path / "inprocess", *args, "--backend", "inprocess")
    ray = _run(tiny_config, tmp_path / "ray", *args, "--backend", "ray")
    assert ray["backend"] == "ray"
    assert _rounds(tmp_path / "inprocess") == _rounds(tmp_path / "ray")


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (["--mu", "-1"], "mu"),
        (["--stragglers", "1.5"], "stragglers"),
        (["--algorithm", "fedsgd"], "algorithm"),
        (["--rounds", "0"], "federation.rounds"),
        (["--backend", "spark"], "runtime.backend"),
        (["--device", "tpu"], "runtime.device"),
        (["--algorithm", "fedavg", "--mu", "1"], "fedavg"),
    ],
)
def test_bad_options_exit_2_naming_the_key(
    options, key, tiny_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--config", str(tiny_config), "--out", str(tmp_path / "x"), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert key in err and "Traceback" not in err
    assert not (tmp_path / "x" / "run.json").exists()


def test_bad_config_file_values_are_named(
    tmp_path: Path, mnist_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tiny_experiment(mnist_root, training={"lr": -0.1}, colour="blue")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "training.lr" in err and "colour" in err and "unknown key" in err

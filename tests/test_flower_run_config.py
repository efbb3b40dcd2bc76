"""`flwr run`'s run config: fedbench's keys, and the keys of Flower's FedProx baseline
(baselines/fedprox), which a SuperLink would refuse with a bare "Invalid run configuration"
unless pyproject declares them (fedbench/apps/flower_config.py maps them)."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest
from flwr.app import Context, RecordDict
from flwr.common.config import flatten_dict, fuse_dicts, parse_config_args
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.supercore.task_identity import TaskIdentity

from fedbench.apps.flower_config import FEDBENCH_KEYS, FLOWER_KEYS, NOT_GIVEN, resolve
from fedbench.apps.results import TIMING_COLUMNS
from fedbench.cli import main
from fedbench.config import load_experiment
from fedbench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# what the SuperLink fuses the overrides with: pyproject's table, flattened as Flower does
DEFAULTS = flatten_dict(PYPROJECT["tool"]["flwr"]["app"]["config"])
DEFAULTS["config-file"] = str(REPO / DEFAULTS["config-file"])  # wherever pytest runs from

# the three algorithms of the baseline's MNIST grid at 90 % stragglers, as its per-run TOML
# files (conf/mnist/*.toml) set them: name, μ, whether stragglers are dropped
BASELINE_VARIANTS = {
    "fedavg": ("FedAvg", 0.0, True),
    "fedprox-mu0": ("FedProx", 0.0, False),
    "fedprox-mu2": ("FedProx", 2.0, False),
}


def baseline_file(name: str, mu: float, drop: bool, stragglers: float = 0.9) -> str:
    """A per-run TOML file with the keys the baseline's conf/mnist files set."""
    return (f'[algorithm]\nname = "{name}"\nnum-server-rounds = 100\n'
            "min-available-clients = 1000\nmin-fit-clients = 1000\nnum-clients = 1000\n"
            f"stragglers-fraction = {stragglers}\nmu = {mu}\n\n"
            f'[dataset]\npath = "ylecun/mnist"\nnum-unique-labels-per-partition = 2\nmu = {mu}\n\n'
            f"[fit]\ndrop-client = {str(drop).lower()}\n")


def superlink_fuse(overrides: dict) -> dict:
    """What a SuperLink does with ``flwr run --run-config``: refuse unknown keys (ValueError,
    its "Invalid run configuration"), else the fused run config the ServerApp gets."""
    return fuse_dicts(DEFAULTS, overrides)


def cell(**overrides):
    return resolve({**DEFAULTS, **overrides}).config


def test_pyproject_declares_fedbench_keys_and_every_flower_key_unset() -> None:
    assert set(DEFAULTS) == set(FEDBENCH_KEYS) | set(FLOWER_KEYS)
    assert all(DEFAULTS[key] == NOT_GIVEN for key in FLOWER_KEYS)
    assert not set(FEDBENCH_KEYS) & set(FLOWER_KEYS)


@pytest.mark.parametrize("line", [
    "algorithm.num-server-rounds=5 algorithm.stragglers-fraction=0.5 algorithm.mu=1.0",
    "num-server-rounds=5 stragglers-fraction=0.5 local-epochs=3 learning-rate=0.05",
    'fit.drop-client=true algorithm.name="FedAvg" dataset.batch-size=20 '
    'model.name="LogisticRegression"',
])
def test_a_superlink_accepts_the_baseline_keys(line: str) -> None:
    fused = superlink_fuse(parse_config_args([line]))
    resolve(fused)  # and fedbench reads them


def test_a_superlink_accepts_the_baseline_run_files(tmp_path: Path) -> None:
    for variant, spec in BASELINE_VARIANTS.items():
        path = tmp_path / f"{variant}.toml"
        path.write_text(baseline_file(*spec))
        superlink_fuse(parse_config_args([str(path)]))


def test_a_superlink_still_refuses_a_key_nobody_declares() -> None:
    with pytest.raises(ValueError, match="num-rounds"):
        superlink_fuse(parse_config_args(["num-rounds=5"]))


def test_fedbench_keys_alone_name_the_cell_as_before() -> None:
    got = resolve(DEFAULTS)
    cfg = load_experiment(str(DEFAULTS["config-file"])).cell(
        str(DEFAULTS["algorithm"]), float(DEFAULTS["mu"]), float(DEFAULTS["stragglers"]),
        int(DEFAULTS["seed"]))
    want = cfg.model_copy(update={"federation": cfg.federation.model_copy(
        update={"rounds": int(DEFAULTS["rounds"])})})
    assert got.config == want
    assert got.out == Path(str(DEFAULTS["out"]))
    assert got.notes == ()


@pytest.mark.parametrize(("variant", "algorithm", "mu"), [
    ("fedavg", "fedavg", 0.0), ("fedprox-mu0", "fedprox", 0.0), ("fedprox-mu2", "fedprox", 2.0)])
def test_the_baseline_run_files_are_fedbench_cells(tmp_path: Path, variant: str, algorithm: str,
                                                   mu: float) -> None:
    path = tmp_path / "run.toml"
    path.write_text(baseline_file(*BASELINE_VARIANTS[variant], stragglers=0.5))
    got = resolve(superlink_fuse(parse_config_args([str(path)])))
    assert (got.config.algorithm, got.config.mu, got.config.stragglers) == (algorithm, mu, 0.5)
    assert got.config.federation.rounds == 100
    assert got.config.federation.num_clients == 1000
    assert any("num-server-rounds=100" in note and "rounds=100" in note for note in got.notes)
    assert any(note.startswith("fit.drop-client=") for note in got.notes)


def test_the_flat_keys_set_fedbench_settings() -> None:
    cfg = cell(**{"num-server-rounds": 7, "stragglers-fraction": 0.5, "local-epochs": 3,
                  "learning-rate": 0.05, "batch-size": 20, "num-clients": 500,
                  "fraction-fit": 0.02})
    assert (cfg.federation.rounds, cfg.stragglers) == (7, 0.5)
    assert (cfg.training.local_epochs, cfg.training.lr, cfg.training.batch_size) == (3, 0.05, 20)
    assert (cfg.federation.num_clients, cfg.federation.clients_per_round) == (500, 10)


def test_a_flower_key_overrides_fedbench_key() -> None:
    assert cell(rounds=50, **{"algorithm.num-server-rounds": 5}).federation.rounds == 5
    assert cell(seed=3, **{"dataset.seed": 42}).seed == 42


def test_drop_client_decides_what_happens_to_stragglers() -> None:
    dropped = cell(**{"fit.drop-client": True})  # fedbench's default algorithm is fedprox
    assert (dropped.algorithm, dropped.mu) == ("fedavg", 0.0)
    kept = cell(algorithm="fedavg", mu=0.0, **{"fit.drop-client": False})
    assert (kept.algorithm, kept.mu) == ("fedprox", 0.0)  # FedAvg keeping partial work
    named = cell(**{"algorithm.name": "FedAvg"})  # μ 0 without Flower's own μ
    assert (named.algorithm, named.mu) == ("fedavg", 0.0)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"algorithm.name": "FedProx", "fit.drop-client": True}, "dropping it is fedbench's fedavg"),
    ({"algorithm.fraction-fit": 0.0155}, "15.5 clients per round"),
    ({"num-server-rounds": 5, "algorithm.num-server-rounds": 100},
     "both set rounds, to different values"),
    ({"dataset.sigma": 1.0}, "dataset.sigma = 2"),
    ({"dataset.power-law": False}, "flower-baseline reproduces the baseline's split"),
    ({"model.name": "CNN"}, "LogisticRegression"),
    ({"algorithm.num-server-rounds": 2.5}, "expected a whole number"),
    ({"algorithm.name": "FedSGD"}, "unknown algorithm"),
    ({"algorithm.fraction-evaluate": 0.5}, "evaluates the global model centrally"),
])
def test_a_baseline_key_fedbench_cannot_honour_is_refused_saying_why(
    overrides: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        cell(**overrides)


def test_an_unknown_key_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown key.*num-rounds.*algorithm\.num-server-rounds"):
        resolve({**DEFAULTS, "num-rounds": 5})


def test_keys_without_effect_are_accepted_and_reported() -> None:
    got = resolve({**DEFAULTS, "algorithm.min-fit-clients": 1000, "dataset.mu": 2.0,
                   "dataset.path": "ylecun/mnist"})
    assert got.config == resolve(DEFAULTS).config
    assert len(got.notes) == 3


@pytest.mark.slow
def test_the_server_app_runs_the_cell_the_baseline_keys_name(tiny_config: Path,
                                                             tmp_path: Path) -> None:
    """The ServerApp's `flwr run` entry point, on the in-process Grid, with the baseline's
    keys, writes the rounds of `fedbench run` with fedbench's options."""
    from fedbench.apps.backends.inprocess import InProcessGrid
    from fedbench.apps.client_app import app as client_app
    from fedbench.apps.server_app import app as server_app

    assert main(["run", "--config", str(tiny_config), "--algorithm", "fedavg",
                 "--stragglers", "0.5", "--rounds", "2", "--out", str(tmp_path / "cli"),
                 "--quiet"]) == 0
    run_config = {**DEFAULTS, "config-file": str(tiny_config), "out": str(tmp_path / "flwr"),
                  "algorithm.name": "FedAvg", "fit.drop-client": True, "algorithm.mu": 0.0,
                  "algorithm.stragglers-fraction": 0.5, "algorithm.num-server-rounds": 2}
    grid = InProcessGrid(client_app, 4)  # 20 partitions over 4 nodes, as over SuperNodes
    TaskIdentity.task_id = 1
    TaskIdentity.run_id = grid.run.run_id
    TaskIdentity.node_id = SUPERLINK_NODE_ID
    server_app(grid, Context(run_id=grid.run.run_id, node_id=SUPERLINK_NODE_ID, node_config={},
                             state=RecordDict(), run_config=run_config))

    def rounds(out: Path) -> list[dict]:
        with (out / "rounds.csv").open() as f:
            return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
                    for row in csv.DictReader(f)]

    assert rounds(tmp_path / "flwr") == rounds(tmp_path / "cli")

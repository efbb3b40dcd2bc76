"""The registries are the single source of truth for algorithm and protocol names.

Adding ``fedbench/algorithms/<name>.py`` (or a protocol module) is the whole change a
contributor makes: the config, ``fedbench run``, the Snakemake schema and wildcards and
the summary's labels all read the registries. The last test proves it end to end with a
toy algorithm dropped into a copy of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fedbench import algorithms, protocols
from fedbench.config import ConfigError, validate_run_config, workflow_schema

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_every_module_of_the_packages_is_registered() -> None:
    modules = {p.stem for p in (ROOT / "fedbench" / "algorithms").glob("*.py")
               if not p.stem.startswith("_")} - {"base"}
    assert {algorithms.get_algorithm(n).name for n in algorithms.names()} == set(
        algorithms.names())
    assert len(modules) == len(algorithms.names())
    assert {"fedavg", "fedprox"} <= set(algorithms.names())
    assert algorithms.baseline().name == "fedavg"
    assert set(protocols.names()) >= {"flower-baseline", "paper", "mcmahan-iid",
                                      "mcmahan-noniid", "synthetic-1-1"}


def test_the_config_refuses_a_name_no_module_defines_and_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError) as err:
        validate_run_config({"algorithm": "fedsgd"})
    assert f"unknown algorithm 'fedsgd'; allowed: {', '.join(algorithms.names())}" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate_run_config({"protocol": "cifar"})
    assert f"allowed: {', '.join(protocols.names())}" in str(err.value)


def test_the_committed_schema_lists_no_names_and_the_generated_one_lists_the_registries() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    variant = template["properties"]["grid"]["properties"]["variants"]["items"]
    assert template["properties"]["protocol"]["enum"] == []
    assert variant["properties"]["algorithm"]["enum"] == []
    schema = workflow_schema(template)
    grid = schema["properties"]["grid"]["properties"]
    assert schema["properties"]["protocol"]["enum"] == list(protocols.names())
    assert grid["protocols"]["items"]["enum"] == list(protocols.names())
    assert grid["variants"]["items"]["properties"]["algorithm"]["enum"] == list(algorithms.names())
    without_mu = [a.name for a in algorithms.registry().values() if not a.uses_mu]
    assert grid["variants"]["items"]["if"]["properties"]["algorithm"]["enum"] == without_mu


def test_labels_and_order_come_from_the_algorithms() -> None:
    assert algorithms.label("fedavg", 0.0) == "FedAvg"
    assert algorithms.label("fedprox", 0.0) == "FedProx μ=0"
    assert algorithms.label("fedprox", 2.0) == "FedProx μ=2"
    assert sorted([("fedprox", 2.0), ("fedavg", 0.0), ("fedprox", 0.0)],
                  key=lambda v: algorithms.sort_key(*v))[0] == ("fedavg", 0.0)


TOY = '''"""FedAvg keeping the stragglers' partial work: a toy module for the registry test."""

from flwr.serverapp.strategy import FedAvg

from fedbench.algorithms.base import Algorithm, AlgorithmDocs, ReproducibleRounds


class PartialWorkFedAvg(ReproducibleRounds, FedAvg):
    drop_stragglers = False

    def __init__(self, template, *, per_round, straggler_rate, straggler_rule="bernoulli",
                 mu=0.0, fail_prob=0.0, params=None):
        FedAvg.__init__(self, fraction_train=1.0, fraction_evaluate=0.0,
                        min_train_nodes=per_round, min_available_nodes=per_round)
        self._setup(template, per_round, straggler_rate, straggler_rule, fail_prob)


ALGORITHM = Algorithm(name="toyavg", strategy=PartialWorkFedAvg, uses_mu=False,
                      docs=AlgorithmDocs(title="ToyAvg", source="the registry test"))
'''


@pytest.mark.slow
def test_one_new_module_is_all_a_new_algorithm_needs(tmp_path: Path) -> None:
    """Copy the project, add one module, and use the new name everywhere: `fedbench run`
    accepts it, `snakemake -n` plans its cells, and its label reaches summary.csv."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for part in ("fedbench", "workflow", "configs"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Snakefile", repo / "Snakefile")
    (repo / "resources").symlink_to(ROOT / "resources", target_is_directory=True)
    (repo / "fedbench" / "algorithms" / "toyavg.py").write_text(TOY)
    env = {**os.environ, "PYTHONPATH": str(repo)}
    bin_dir = Path(sys.executable).parent

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    out = repo / "runs" / "toyavg-mu0.0-sf0.9" / "seed0"
    done = run(sys.executable, "-m", "fedbench.cli", "run", "--config", "configs/quick.yaml",
               "--algorithm", "toyavg", "--stragglers", "0.9", "--rounds", "2", "--quiet",
               "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "run.json").is_file()

    agg = run(sys.executable, "-m", "fedbench.cli", "aggregate", "--name", "toy",
              "--out-dir", str(repo / "reports"), str(out))
    assert agg.returncode == 0, agg.stderr
    summary = (repo / "reports" / "summary.csv").read_text()
    assert ",toyavg," in summary and ",ToyAvg," in summary

    plan = run(str(bin_dir / "snakemake"), "-n", "--cores", "1", "--configfile",
               "configs/quick.yaml", "--config",
               "grid={variants: [{algorithm: toyavg}, {algorithm: fedavg}], "
               "stragglers: [0.9], seeds: [0]}")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "results/quick/toyavg-mu0.0-sf0.9/seed0/rounds.csv" in plan.stdout
    # ... and, like fedavg, it has no proximal term: the generated schema refuses mu > 0
    refused = run(str(bin_dir / "snakemake"), "-n", "--cores", "1", "--configfile",
                  "configs/quick.yaml", "--config",
                  "grid={variants: [{algorithm: toyavg, mu: 1.0}], stragglers: [0.9], "
                  "seeds: [0]}")
    assert refused.returncode == 2
    assert "mu" in refused.stderr and "toyavg" in refused.stderr

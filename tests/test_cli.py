"""The command line itself: --version, help texts (allowed values, no reStructuredText, fast
top-level help) and ``fedbench run --set KEY=VALUE``."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import fedbench
from fedbench import algorithms, protocols
from fedbench.cli import build_parser, main, plain
from fedbench.commands import NAMES
from fedbench.commands.run import resolve

REPO = Path(__file__).resolve().parents[1]


def test_version_flag_prints_the_package_version(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"fedbench {fedbench.__version__}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert fedbench.__version__ == project["version"]


def test_top_level_help_imports_no_registry_flower_or_torch() -> None:
    code = ("import sys\nfrom fedbench.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('flwr', 'torch', 'pydantic', 'fedbench.algorithms.fedavg') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert "HEAVY []" in out
    assert "usage: fedbench" in out and "--version" in out


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_run_help_lists_the_allowed_values_from_the_registries(capsys) -> None:
    text = " ".join(_help(capsys, "run").split())  # unwrapped
    assert f"--algorithm NAME one of: {', '.join(algorithms.names())}" in text
    assert f"--protocol NAME protocol of the cell, one of: {', '.join(protocols.names())}" in text
    assert "--backend NAME one of: inprocess, ray" in text
    assert "--device NAME one of: cpu, cuda" in text
    assert "--set KEY=VALUE" in text


@pytest.mark.parametrize("command", [None, *NAMES])
def test_help_has_no_restructuredtext_markup(capsys, command) -> None:
    text = _help(capsys, *([command] if command else []))
    assert "`" not in text and ":func:" not in text


def test_plain_strips_literals_roles_and_interpreted_text() -> None:
    assert plain("``fedbench run`` and `fedbench aggregate` via :func:`main`") == (
        "fedbench run and fedbench aggregate via main")


def _resolved(tiny_config: Path, tmp_path: Path, *extra: str):
    argv = ["run", "--config", str(tiny_config), "--out", str(tmp_path / "x"), *extra]
    parser, _ = build_parser(argv)
    return resolve(parser.parse_args(argv))


def test_set_overrides_any_config_key(tiny_config: Path, tmp_path: Path) -> None:
    cfg = _resolved(tiny_config, tmp_path, "--set", "training.lr=0.05",
                    "--set", "federation.rounds=7", "--set", "training.batch_size=full",
                    "--set", "training.weight_decay=1e-3", "--set", "stragglers=0.9")
    assert cfg.training.lr == 0.05 and cfg.federation.rounds == 7
    assert cfg.training.batch_size == 0  # B = ∞
    assert cfg.training.weight_decay == 0.001  # a number, although YAML 1.1 reads it as text
    assert cfg.stragglers == 0.9


def test_set_algorithm_without_mu_does_not_carry_the_variants_mu(tiny_config: Path,
                                                                  tmp_path: Path) -> None:
    without_mu = next(a for a in algorithms.registry().values() if not a.uses_mu)
    cfg = _resolved(tiny_config, tmp_path, "--set", f"algorithm={without_mu.name}")
    assert cfg.algorithm == without_mu.name and cfg.mu == 0.0


@pytest.mark.parametrize(("item", "named"), [
    ("training.colour=3", ["unknown key 'training.colour'", "allowed keys:",
                           "training.batch_size", "training.lr"]),
    ("colour=3", ["unknown key 'colour'", "allowed keys:", "federation", "training"]),
    ("training=3", ["'training' is a group of keys", "training.lr"]),
    ("mu.x=1", ["'mu' is a single value"]),
    ("training.lr", ["expected KEY=VALUE"]),
    ("training.lr=-0.1", ["training.lr", "greater than 0"]),
    ("federation.rounds=many", ["federation.rounds", "'many'"]),
    ("runtime.backend=gpu", ["runtime.backend", "'inprocess'", "'ray'"]),
])
def test_set_with_a_bad_key_or_value_exits_2_naming_it(tiny_config: Path, tmp_path: Path,
                                                       capsys, item: str,
                                                       named: list[str]) -> None:
    code = main(["run", "--config", str(tiny_config), "--out", str(tmp_path / "x"),
                 "--set", item])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("fedbench: error:") and "Traceback" not in err
    for text in named:
        assert text in err, (text, err)
    assert not (tmp_path / "x").exists()


def test_set_contradicting_a_named_option_is_refused(tiny_config: Path, tmp_path: Path,
                                                     capsys) -> None:
    code = main(["run", "--config", str(tiny_config), "--out", str(tmp_path / "x"),
                 "--rounds", "3", "--set", "federation.rounds=5"])
    assert code == 2 and "federation.rounds" in capsys.readouterr().err


def test_set_reaches_the_run(tiny_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "x"
    assert main(["run", "--config", str(tiny_config), "--out", str(out), "--quiet",
                 "--set", "federation.rounds=1", "--set", "training.lr=0.05"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["federation"]["rounds"] == 1
    assert run["config"]["training"]["lr"] == 0.05

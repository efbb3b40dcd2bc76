"""``fedbench run``: one grid cell, by hand (options override the config file).

Any config key can be overridden with ``--set KEY=VALUE`` (repeatable), e.g.
``--set training.lr=0.05 --set federation.rounds=20``; values are read as YAML
(``true``, ``1e-3``, ``full``) and validated with the config together with the
file, so a bad key or value stops the run before it starts (exit code 2).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

from fedbench.errors import ConfigError

if TYPE_CHECKING:
    from fedbench.config import RunConfig

HELP = "run one grid cell with Flower"
DEFAULT_CONFIG = "configs/default.yaml"


def _allowed(names) -> str:
    return ", ".join(names)


def configure(p: argparse.ArgumentParser) -> None:
    # The allowed values come from the registries and the config models (this imports
    # flwr, about 0.3 s: only when `fedbench run` is the command, never for `fedbench --help`)
    from fedbench import algorithms, protocols
    from fedbench.config import RuntimeConfig

    backends = get_args(RuntimeConfig.model_fields["backend"].annotation)
    devices = get_args(RuntimeConfig.model_fields["device"].annotation)
    p.add_argument(
        "--config", default=None,
        help=f"experiment YAML (default: {DEFAULT_CONFIG}, or the configs shipped with the "
        "package when there is no such file here; see fedbench init)")
    p.add_argument("--protocol", metavar="NAME",
                   help=f"protocol of the cell, one of: {_allowed(protocols.names())} "
                   "(default: the config's)")
    p.add_argument("--setting", help="a label of the config's grid.settings (model, E, B, lr), "
                   "e.g. cnn-E5-B10-lr0.1 (default: the first)")
    p.add_argument("--partition", metavar="LABEL",
                   help="a label of the config's grid.partitions, e.g. labels-k2 or "
                   "dirichlet-beta0.5-min_size10 (default: the first, else the config's)")
    p.add_argument("--algorithm", metavar="NAME",
                   help=f"one of: {_allowed(algorithms.names())} (default: the config's first "
                   "variant)")
    p.add_argument("--mu", type=float, help="proximal weight μ (algorithms with a proximal term)")
    p.add_argument("--stragglers", type=float, help="straggler rate γ in [0, 1]")
    p.add_argument("--seed", type=int, help="cell seed (default: the config's first seed)")
    p.add_argument("--rounds", type=int, help="override federation.rounds")
    p.add_argument("--backend", metavar="NAME",
                   help=f"one of: {_allowed(backends)} (default: the config's)")
    p.add_argument("--threads", type=int, help="torch threads for this run")
    p.add_argument("--device", metavar="NAME",
                   help=f"one of: {_allowed(devices)} (default: the config's)")
    p.add_argument("--mnist-dir", help="directory with the four MNIST IDX files")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set",
                   help="override any config key, e.g. --set training.lr=0.05 (repeatable; "
                   "the value is read as YAML; validated with the config)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--quiet", action="store_true", help="no per-round progress")
    p.add_argument("--fail-prob", type=float, default=0.0, help=argparse.SUPPRESS)  # test-only


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["training.lr=0.05", ...]`` -> {"training.lr": 0.05}, keys checked against the run
    config's fields (``RunConfig``): an unknown key, or a group of keys given one value, is a
    ConfigError naming the key and the keys allowed there."""
    import yaml

    from fedbench.config import RunConfig

    found: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. --set training.lr=0.05")
        annotation = config_field(RunConfig, key, option=f"--set {item}")
        try:
            value = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and float in _types(annotation):
            # YAML 1.1 reads 1e-3 as text; on the command line it is a number
            with contextlib.suppress(ValueError):
                value = float(value)
        if key in found and found[key] != value:
            raise ConfigError(f"--set {key}: given twice ({found[key]!r} and {value!r})")
        found[key] = value
    return found


def config_field(model: Any, dotted: str, option: str) -> Any:
    """The annotation of the config field ``dotted`` (``training.lr``) of ``model``; a
    ConfigError naming the key and the keys allowed there when there is no such field, or
    when it is a group of keys (``training``) rather than one value."""
    from pydantic import BaseModel

    node, done = model, []
    for part in dotted.split("."):
        fields = node.model_fields
        where = ".".join(done)
        if part not in fields:
            allowed = ", ".join(f"{where}.{f}" if where else f for f in sorted(fields))
            raise ConfigError(f"{option}: unknown key {'.'.join([*done, part])!r}; "
                              f"allowed keys: {allowed}")
        annotation = fields[part].annotation
        done.append(part)
        if get_origin(annotation) is dict and len(done) < len(dotted.split(".")):
            # a mapping of free names (``params``): any key below it, checked by the
            # algorithm's hyperparameters when the config is validated
            if len(done) + 1 != len(dotted.split(".")):
                raise ConfigError(f"{option}: {'.'.join(done)}.<name> takes one value")
            return get_args(annotation)[1]
        sub = next((t for t in _types(annotation)
                    if isinstance(t, type) and issubclass(t, BaseModel)), None)
        node = sub
        if node is None:
            if len(done) < len(dotted.split(".")):
                raise ConfigError(f"{option}: {'.'.join(done)!r} is a single value, it has no "
                                  f"key {dotted.split('.')[len(done)]!r}")
            return annotation
    keys = ", ".join(f"{dotted}.{f}" for f in sorted(node.model_fields))
    raise ConfigError(f"{option}: {dotted!r} is a group of keys; set one of them: {keys}")


def _types(annotation: Any) -> set[Any]:
    args = get_args(annotation)
    return set().union(*(_types(a) for a in args)) if args else {annotation}


def resolve(args: argparse.Namespace) -> RunConfig:
    """Config file values, then command-line overrides (the named options, then ``--set``),
    validated together."""
    from fedbench.config import read_yaml, set_nested, validate_experiment, validate_run_config

    config_path = args.config if args.config is not None else default_config()
    experiment = validate_experiment(read_yaml(config_path), source=config_path)
    base: dict[str, Any] = experiment.model_dump(exclude={"grid", "results_dir", "reports_dir"})
    grid = experiment.grid
    first = grid.variants[0] if grid else None
    if first is not None:  # else RunConfig's default algorithm, without a proximal term
        base["algorithm"], base["mu"] = first.algorithm, first.mu
        base["params"] = dict(first.params)
    base["stragglers"] = grid.stragglers[0] if grid else 0.0
    base["seed"] = grid.seeds[0] if grid else 0
    if grid and grid.protocols:
        base["protocol"] = grid.protocols[0]
    if getattr(args, "partition", None) is not None:
        base["partition"] = experiment.partition_named(args.partition).model_dump()
    elif grid and grid.partitions:
        base["partition"] = grid.partitions[0].model_dump()
    settings = experiment.settings()
    if getattr(args, "setting", None) is not None:
        base["training"] = experiment.setting(args.setting).model_dump()
    elif settings:
        base["training"] = next(iter(settings.values())).model_dump()
    overrides = {
        "protocol": getattr(args, "protocol", None),
        "algorithm": args.algorithm,
        "mu": args.mu,
        "stragglers": args.stragglers,
        "seed": args.seed,
        "federation.rounds": args.rounds,
        "runtime.backend": args.backend,
        "runtime.threads": args.threads,
        "runtime.device": args.device,
        "data.mnist_dir": args.mnist_dir,
    }
    sets = parse_set(getattr(args, "set", None) or [])
    for key, value in overrides.items():
        if value is not None:
            if key in sets and sets[key] != value:
                raise ConfigError(f"--set {key}={sets[key]!r} contradicts the option that sets "
                                  f"{key} to {value!r}: give it once")
            set_nested(base, key, value)
    algorithm_given = args.algorithm is not None or "algorithm" in sets
    if algorithm_given:
        base["params"] = {}  # a variant's params do not carry over to another algorithm
    for key, value in sets.items():
        set_nested(base, key, value)
    if algorithm_given and args.mu is None and "mu" not in sets:
        base["mu"] = 0.0  # nor does its mu
    return validate_run_config(base, source=f"{config_path} with command-line options")


def default_config() -> str:
    """configs/default.yaml here, else the copy shipped with the package (an installed
    fedbench run outside the repository)."""
    if Path(DEFAULT_CONFIG).is_file():
        return DEFAULT_CONFIG
    from fedbench.shipped import config_path

    return str(config_path("default.yaml"))


def execute(args: argparse.Namespace) -> int:
    cfg = resolve(args)
    if not 0.0 <= args.fail_prob <= 1.0:
        raise ConfigError(f"--fail-prob: must be in [0, 1] (got {args.fail_prob})")
    from fedbench.apps.run import run_cell

    payload = run_cell(cfg, args.out, quiet=args.quiet, fail_prob=args.fail_prob)
    final = payload["final"]
    print(
        f"{payload['status']}: round {final['round']} test_accuracy "
        f"{final['test_accuracy']:.4f} test_loss {final['test_loss']:.4f} "
        f"({payload['wall_seconds']:.1f}s) -> {args.out}",
        file=sys.stderr,
    )
    return 0

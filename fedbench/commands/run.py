"""``fedbench run``: one grid cell, by hand (options override the config file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fedbench.config import (
    RunConfig,
    read_yaml,
    set_nested,
    validate_experiment,
    validate_run_config,
)
from fedbench.errors import ConfigError

HELP = "run one grid cell with Flower"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", default="configs/default.yaml", help="experiment YAML (default: %(default)s)"
    )
    p.add_argument("--protocol", help="protocol of the cell (default: the config's)")
    p.add_argument("--setting", help="a label of the config's grid.settings (model, E, B, lr), "
                   "e.g. cnn-E5-B10-lr0.1 (default: the first)")
    p.add_argument("--algorithm", help="fedavg | fedprox")
    p.add_argument("--mu", type=float, help="proximal weight (fedprox)")
    p.add_argument("--stragglers", type=float, help="straggler rate in [0, 1]")
    p.add_argument("--seed", type=int, help="cell seed (default: the config's first seed)")
    p.add_argument("--rounds", type=int, help="override federation.rounds")
    p.add_argument("--backend", help="inprocess | ray")
    p.add_argument("--threads", type=int, help="torch threads for this run")
    p.add_argument("--device", help="cpu | cuda")
    p.add_argument("--mnist-dir", help="directory with the four MNIST IDX files")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--quiet", action="store_true", help="no per-round progress")
    p.add_argument("--fail-prob", type=float, default=0.0, help=argparse.SUPPRESS)  # test-only


def resolve(args: argparse.Namespace) -> RunConfig:
    """Config file values, then command-line overrides, validated together."""
    experiment = validate_experiment(read_yaml(args.config), source=args.config)
    base: dict[str, Any] = experiment.model_dump(exclude={"grid", "results_dir", "reports_dir"})
    grid = experiment.grid
    first = grid.variants[0] if grid else None
    base["algorithm"] = first.algorithm if first else "fedprox"
    base["mu"] = first.mu if first else 0.0
    base["stragglers"] = grid.stragglers[0] if grid else 0.0
    base["seed"] = grid.seeds[0] if grid else 0
    if grid and grid.protocols:
        base["protocol"] = grid.protocols[0]
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
    for key, value in overrides.items():
        if value is not None:
            set_nested(base, key, value)
    if args.algorithm is not None and args.mu is None:
        base["mu"] = 0.0  # a variant's mu does not carry over to another algorithm
    return validate_run_config(base, source=f"{args.config} with command-line options")


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

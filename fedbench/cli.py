"""The ``fedbench`` command line: run a cell, fetch data, aggregate, report, check.

User mistakes (bad config, missing data, bad files) end with a one-paragraph
message and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fedbench.config import ConfigError, read_yaml, set_nested, validate_experiment

EXIT_USAGE = 2


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="configs/default.yaml", help="experiment YAML (default: %(default)s)")
    p.add_argument("--algorithm", help="fedavg | fedprox")
    p.add_argument("--mu", type=float, help="proximal weight (fedprox)")
    p.add_argument("--stragglers", type=float, help="straggler rate in [0, 1]")
    p.add_argument("--seed", type=int, help="cell seed (default 0)")
    p.add_argument("--rounds", type=int, help="override federation.rounds")
    p.add_argument("--backend", help="inprocess | ray")
    p.add_argument("--threads", type=int, help="torch threads for this run")
    p.add_argument("--device", help="cpu | cuda")
    p.add_argument("--mnist-dir", help="directory with the four MNIST IDX files")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--quiet", action="store_true", help="no per-round progress")
    p.add_argument("--fail-prob", type=float, default=0.0, help=argparse.SUPPRESS)  # test-only


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one grid cell with Flower")
    _run_options(run)
    data = sub.add_parser("data", help="obtain and verify datasets")
    data_sub = data.add_subparsers(dest="dataset", required=True)
    m = data_sub.add_parser("mnist", help="MNIST into ROOT/MNIST/raw, verified by MD5")
    m.add_argument("--root", default="resources")
    m.add_argument("--mnist-dir", help="use these IDX files (plain or .gz) instead of downloading")
    return parser


def resolve_run_config(args: argparse.Namespace) -> Any:
    """Config file values, then command-line overrides, validated together."""
    raw = read_yaml(args.config)
    if not isinstance(raw, dict):
        raise ConfigError(f"{args.config}: expected a mapping of keys to values")
    experiment = validate_experiment(raw, source=args.config)
    base = experiment.model_dump(exclude={"grid", "results_dir", "reports_dir"})
    grid = experiment.grid
    first = grid.variants[0] if grid else None
    base["algorithm"] = first.algorithm if first else "fedprox"
    base["mu"] = first.mu if first else 0.0
    base["stragglers"] = grid.stragglers[0] if grid else 0.0
    base["seed"] = grid.seeds[0] if grid else 0
    overrides = {
        "algorithm": args.algorithm, "mu": args.mu, "stragglers": args.stragglers, "seed": args.seed,
        "federation.rounds": args.rounds, "runtime.backend": args.backend,
        "runtime.threads": args.threads, "runtime.device": args.device,
        "data.mnist_dir": args.mnist_dir,
    }
    for key, value in overrides.items():
        if value is not None:
            set_nested(base, key, value)
    if args.algorithm == "fedavg" and args.mu is None:
        base["mu"] = 0.0
    from fedbench.config import validate_run_config

    return validate_run_config(base, source=f"{args.config} with command-line options")


def cmd_run(args: argparse.Namespace) -> int:
    from fedbench.run import run_cell

    cfg = resolve_run_config(args)
    if not 0.0 <= args.fail_prob <= 1.0:
        raise ConfigError(f"--fail-prob: must be in [0, 1] (got {args.fail_prob})")
    payload = run_cell(cfg, args.out, quiet=args.quiet, fail_prob=args.fail_prob)
    final = payload["final"]
    print(f"{payload['status']}: round {final['round']} test_accuracy {final['test_accuracy']:.4f} "
          f"test_loss {final['test_loss']:.4f} ({payload['wall_seconds']:.1f}s) -> {args.out}",
          file=sys.stderr)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from fedbench import mnist

    where = mnist.ensure_mnist(args.root, args.mnist_dir, log=lambda m: print(m, file=sys.stderr))
    print(where)
    return 0


def main(argv: list[str] | None = None) -> int:
    from fedbench.mnist import DataError

    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "data": cmd_data}
    try:
        return handlers[args.command](args)
    except (ConfigError, DataError) as exc:
        print(f"fedbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fedbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

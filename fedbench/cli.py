"""The ``fedbench`` command line: run a cell, fetch data, aggregate, report, check.

Each subcommand lives in ``fedbench/commands/<name>.py``. User mistakes (bad
config, missing data, malformed files) end with a short message naming the bad
value and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fedbench.commands import NAMES
from fedbench.errors import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="fedbench", description="Reproducible FedAvg/FedProx benchmarks on MNIST with Flower."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in NAMES:
        module = importlib.import_module(f"fedbench.commands.{name}")
        module.configure(sub.add_parser(name, help=module.HELP, description=module.__doc__))
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C at any point (the heavy imports included) ends quietly with 130, no traceback;
    # a run's outputs are written atomically, so an interrupted run leaves nothing that
    # looks complete (its checkpoint, if any, is resumed by the next run).
    try:
        from fedbench.errors import ConfigError, DataError

        parser, modules = build_parser()
        args = parser.parse_args(argv)
        try:
            return int(modules[args.command].execute(args))
        except (ConfigError, DataError, UsageError) as exc:
            print(f"fedbench: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    except KeyboardInterrupt:
        print("fedbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

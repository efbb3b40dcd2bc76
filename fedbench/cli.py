"""The ``fedbench`` command line: run a cell, fetch data, aggregate, report, check.

Each subcommand lives in ``fedbench/commands/<name>.py``. User mistakes (bad
config, missing data, malformed files) end with a short message naming the bad
value and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from fedbench import __version__
from fedbench.commands import NAMES
from fedbench.errors import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def plain(text: str | None) -> str | None:
    """Help text without reStructuredText markup: argparse prints docstrings as they are, so
    ``literal``, `interpreted` and :role:`target` lose their backticks and roles."""
    if text is None:
        return None
    text = re.sub(r":[a-z]+:`([^`]*)`", r"\1", text)
    return re.sub(r"``?([^`]+?)``?", r"\1", text)


class PlainHelpFormatter(argparse.HelpFormatter):
    """Descriptions and option help printed without reStructuredText markup (``plain``)."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text) or "")

    def _expand_help(self, action: argparse.Action) -> str:
        return plain(super()._expand_help(action)) or ""


def _chosen(argv: list[str] | None) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    words = sys.argv[1:] if argv is None else argv
    first = next((w for w in words if not w.startswith("-")), None)
    return first if first in NAMES else None


def build_parser(argv: list[str] | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The parser; only the subcommand ``argv`` names gets its options (its ``configure`` may
    ask the registries, which import flwr), so ``fedbench --help`` stays fast."""
    parser = argparse.ArgumentParser(
        prog="fedbench", description="Reproducible FedAvg/FedProx benchmarks on MNIST with Flower.",
        formatter_class=PlainHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fedbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = _chosen(argv)
    modules = {}
    for name in NAMES:
        module = importlib.import_module(f"fedbench.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=PlainHelpFormatter)
        if name == chosen:
            module.configure(p)
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C at any point (the heavy imports included) ends quietly with 130, no traceback;
    # a run's outputs are written atomically, so an interrupted run leaves nothing that
    # looks complete (its checkpoint, if any, is resumed by the next run).
    try:
        from fedbench.errors import ConfigError, DataError

        parser, modules = build_parser(argv)
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

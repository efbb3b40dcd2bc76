"""The ``fedbench`` command line: run a cell, fetch data, aggregate, report, check.

Each subcommand lives in ``fedbench/commands/<name>.py``. User mistakes (bad
config, missing data, malformed files) end with a short message naming the bad
value and exit code 2, never a traceback; so do the machine's (a full disk, a
read-only or unwritable directory: any ``OSError``, with its path and reason).
SIGTERM is raised as an exception (``Terminated``) so that every cleanup runs
(no temporary file is left behind), then the process ends by SIGTERM as before.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import textwrap

from fedbench import __version__
from fedbench.commands import NAMES
from fedbench.errors import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised wherever the process is (like KeyboardInterrupt for SIGINT), so that
    ``finally`` blocks and ``fedbench.io``'s cleanup run before the process ends."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def os_error_text(exc: OSError) -> str:
    """``PATH: reason`` of an OSError (its strerror; both paths of a rename)."""
    reason = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


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

    def _split_lines(self, text: str, width: int) -> list[str]:
        """Wrapped at spaces only: a name such as ``niid-bench-fmnist`` or a partition label
        stays whole on one line, so it can be copied from the help."""
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False)


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
    previous = _handle_sigterm()
    try:
        from fedbench.errors import ConfigError, DataError

        parser, modules = build_parser(argv)
        args = parser.parse_args(argv)
        try:
            return int(modules[args.command].execute(args))
        except (ConfigError, DataError, UsageError) as exc:
            print(f"fedbench: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:  # the machine: a full disk, a read-only or unwritable path
            print(f"fedbench: error: {os_error_text(exc)}", file=sys.stderr)
            return EXIT_USAGE
    except KeyboardInterrupt:
        print("fedbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        # cleanup has run; end by SIGTERM itself, so that a parent sees what it sent
        # (a shell reports 143)
        print("fedbench: terminated", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _handle_sigterm() -> object:
    """Install ``_raise_terminated`` for SIGTERM; the previous handler, or None where signals
    cannot be handled (not the main thread)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread of the main interpreter
        return None
    return signal.SIG_DFL if previous is None else previous  # None: not set from Python


if __name__ == "__main__":
    sys.exit(main())

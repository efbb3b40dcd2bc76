"""``fedbench data mnist``: obtain MNIST without a network and verify it."""

from __future__ import annotations

import argparse
import sys

HELP = "obtain and verify datasets"


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="dataset", required=True)
    m = sub.add_parser("mnist", help="MNIST into ROOT/MNIST/raw, verified by MD5")
    m.add_argument("--root", default="resources", help="data root (default: %(default)s)")
    m.add_argument("--mnist-dir", help="use these IDX files (plain or .gz) instead of downloading")


def execute(args: argparse.Namespace) -> int:
    from fedbench.data import mnist

    where = mnist.ensure_mnist(args.root, args.mnist_dir, log=lambda m: print(m, file=sys.stderr))
    print(where)
    return 0

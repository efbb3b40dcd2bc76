"""``fedbench data mnist`` / ``fedbench data fashion-mnist``: obtain a dataset without a
network and verify it."""

from __future__ import annotations

import argparse
import importlib
import sys

HELP = "obtain and verify datasets"

# subcommand -> (module in fedbench.data, its ensure function, the user-directory option,
# help): the one list of datasets this command knows
DATASETS = {
    "mnist": (
        "mnist", "ensure_mnist", "--mnist-dir", "MNIST into ROOT/MNIST/raw, verified by MD5",
    ),
    "fashion-mnist": (
        "fashion_mnist", "ensure_fashion_mnist", "--dir",
        "Fashion-MNIST into ROOT/FashionMNIST/raw, verified by MD5",
    ),
}


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="dataset", required=True)
    for name, (_module, _ensure, dir_option, help_text) in DATASETS.items():
        m = sub.add_parser(name, help=help_text)
        m.add_argument("--root", default="resources", help="data root (default: %(default)s)")
        m.add_argument(dir_option, dest="user_dir",
                       help="use these IDX files (plain or .gz) instead of downloading")


def execute(args: argparse.Namespace) -> int:
    module, ensure, _dir_option, _help = DATASETS[args.dataset]
    obtain = getattr(importlib.import_module(f"fedbench.data.{module}"), ensure)
    where = obtain(args.root, args.user_dir, log=lambda m: print(m, file=sys.stderr))
    print(where)
    return 0

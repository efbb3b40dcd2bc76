"""``fedbench targets``: rounds to reach the target accuracy (McMahan et al. 2017).

Reads RUN_DIR/rounds.csv and RUN_DIR/run.json of every run directory given and
writes OUT_DIR/targets.csv (one row per (partition, model, E, B, lr) setting:
rounds to target per seed and their median, beside McMahan's Table 2 and
Flower's replication), OUT_DIR/targets_rounds.csv, OUT_DIR/figures/target_curves.{png,pdf}
and OUT_DIR/targets.pdf.
"""

from __future__ import annotations

import argparse
import sys

from fedbench.commands import add_run_dir_options

HELP = "rounds to reach the target accuracy per setting (FedAvg MNIST baseline)"


def configure(p: argparse.ArgumentParser) -> None:
    add_run_dir_options(p, 'experiment name')


def execute(args: argparse.Namespace) -> int:
    from fedbench.targets import write_targets

    paths = write_targets(args.run_dirs, args.out_dir, args.name)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0

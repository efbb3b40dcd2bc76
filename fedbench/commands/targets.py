"""``fedbench targets``: rounds to reach the target accuracy (McMahan et al. 2017).

Reads RUN_DIR/rounds.csv and RUN_DIR/run.json of every run directory given and
writes, under OUT_DIR: targets.csv (one row per (partition, model, E, B, lr)
setting: rounds to target per seed and their median, beside McMahan's Table 2
and Flower's replication), targets_rounds.csv (accuracy per round),
provenance.json, figures/target_curves.{png,pdf} and report.pdf (setup, the
table, the curves, known differences, provenance). The experiment config, when
given, adds its digest and a check that every grid run is present.
"""

from __future__ import annotations

import argparse
import sys

from fedbench.commands import add_run_dir_options

HELP = "rounds to reach the target accuracy per setting, and its report (FedAvg MNIST baseline)"


def configure(p: argparse.ArgumentParser) -> None:
    add_run_dir_options(p, 'experiment name (report title)')
    p.add_argument("--config", default=None,
                   help="experiment YAML the runs came from (optional; adds its digest and "
                        "the missing-runs check to the report)")


def execute(args: argparse.Namespace) -> int:
    from fedbench.analysis.targets import write_targets

    config = None
    if args.config is not None:
        from fedbench.config import load_experiment

        config = load_experiment(args.config)
    paths = write_targets(args.run_dirs, args.out_dir, args.name, config=config,
                          config_path=args.config)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0

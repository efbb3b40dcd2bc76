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
    from fedbench.analysis.summary import provenance
    from fedbench.analysis.targets import read_target_runs, targets_table, write_target_tables
    from fedbench.report.build import build_targets

    config = None
    if args.config is not None:
        from fedbench.config import load_experiment

        config = load_experiment(args.config)
    data = read_target_runs(args.run_dirs)
    table = targets_table(data.runs)
    prov = provenance(data.records, args.name)
    paths = write_target_tables(args.out_dir, data, table, prov)
    paths += build_targets(args.out_dir, args.name, data, table, prov, config=config,
                           config_path=args.config)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0

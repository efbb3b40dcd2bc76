"""``fedbench aggregate``: many cell runs into one tidy table, a summary and provenance.

Reads RUN_DIR/rounds.csv and RUN_DIR/run.json of every run directory given and
writes OUT_DIR/rounds.csv (every round of every run), OUT_DIR/summary.csv (one
row per cell: mean ± std over seeds, last-10 regression metric, paired
comparison with FedAvg) and OUT_DIR/provenance.json.
"""

from __future__ import annotations

import argparse
import sys

from fedbench.commands import add_run_dir_options

HELP = "aggregate run directories into summary tables"


def configure(p: argparse.ArgumentParser) -> None:
    add_run_dir_options(p, 'experiment name (written into the tables)')


def execute(args: argparse.Namespace) -> int:
    from fedbench.analysis.summary import aggregate

    paths = aggregate(args.run_dirs, args.out_dir, args.name)
    print(f"aggregated {len(args.run_dirs)} runs -> "
          + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0

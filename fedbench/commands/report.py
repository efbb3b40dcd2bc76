"""``fedbench report``: figures and the PDF report from the output of ``fedbench aggregate``.

Reads REPORTS_DIR/rounds.csv, summary.csv and provenance.json and writes
REPORTS_DIR/figures/{curves,final_accuracy}.{png,pdf} and REPORTS_DIR/report.pdf
(no TeX needed). The experiment config adds its digest and a check that every
grid cell is present.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "render figures and the PDF report from aggregated results"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="experiment name (report title)")
    p.add_argument("--config", default="configs/default.yaml",
                   help="experiment YAML the runs came from (default: %(default)s)")
    p.add_argument("--reports-dir", required=True, type=Path,
                   help="directory written by `fedbench aggregate`, e.g. reports/NAME")
    p.add_argument("--figures-only", action="store_true",
                   help="write the figures only, not report.pdf")


def execute(args: argparse.Namespace) -> int:
    from fedbench.config import load_experiment
    from fedbench.report.build import build

    config = load_experiment(args.config)
    written = build(args.reports_dir, args.name, config=config, config_path=str(args.config),
                    figures_only=args.figures_only)
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0

"""``fedbench expected``: build the regression reference from a measured summary, deliberately.

The reference (``configs/expected/<name>.csv`` plus ``<name>.meta.json``) is
regenerated only by this command, never by the workflow: moving it is a decision
a reviewer sees in the diff. An existing reference is never overwritten without
``--force``. Band rule: band = max(k * std * sqrt(2 / n), floor) over the
metric's seed spread (see ``fedbench/analysis/regression.py``).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HELP = "regenerate a regression reference (configs/expected/<name>.csv) from a summary"


def configure(p: argparse.ArgumentParser) -> None:
    from fedbench.analysis.regression import FLOOR, K

    p.add_argument("--summary", required=True, type=Path,
                   help="reports/<name>/summary.csv from `fedbench aggregate`")
    p.add_argument("--out", required=True, type=Path, help="configs/expected/<name>.csv")
    p.add_argument("--config", type=Path,
                   help="the experiment YAML the summary came from (records its seeds)")
    p.add_argument("--k", type=float, default=K,
                   help="band width, in std of the difference of two n-seed means "
                   "(default: %(default)s)")
    p.add_argument("--floor", type=float, default=FLOOR,
                   help="smallest band half-width (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite an existing reference")


def _provenance(args: argparse.Namespace) -> dict[str, Any]:
    import fedbench
    from fedbench.analysis.regression import file_sha256
    from fedbench.apps.results import git_commit

    seeds = None
    if args.config is not None:
        from fedbench.config import read_yaml, validate_experiment

        experiment = validate_experiment(read_yaml(args.config), source=str(args.config))
        seeds = list(experiment.grid.seeds) if experiment.grid else None
    return {
        "name": args.out.stem,
        "fedbench_version": fedbench.__version__,
        "git_commit": git_commit(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": str(args.summary),
        "summary_sha256": file_sha256(args.summary),
        "config": str(args.config) if args.config is not None else None,
        "seeds": seeds,
    }


def execute(args: argparse.Namespace) -> int:
    from fedbench.analysis.regression import (
        cell_label,
        claim_rows,
        evaluate_claims,
        format_table,
        make_expected,
        meta_path,
        read_summary,
        write_expected,
    )
    from fedbench.errors import UsageError

    for option, value in (("--k", args.k), ("--floor", args.floor)):
        if not (math.isfinite(value) and value >= 0):  # nan would make every band nan
            raise UsageError(f"{option} must be a finite number >= 0 (got {value})")
    existing = [p for p in (args.out, meta_path(args.out)) if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{', '.join(map(str, existing))} already exist(s); the reference is "
                         "only replaced deliberately: add --force")
    summary = read_summary(args.summary)
    expected = make_expected(summary, _provenance(args), k=args.k, floor=args.floor)
    meta_file = write_expected(args.out, expected)

    cells = expected.cells
    print(format_table(
        ([cell_label((r.protocol, r.algorithm, r.mu, r.stragglers)), f"{r.expected:.4f}",
          f"{r.std:.4f}", str(r.n), f"±{r.band:.4f}"] for r in cells.itertuples()),
        ["cell", "expected", "std", "n", "band"]))
    claims = evaluate_claims(summary)
    if claims:
        print()
        print(format_table(*claim_rows(claims)))
    print(f"wrote {args.out} and {meta_file} ({len(cells)} cells, "
          f"band = max({args.k:g} * std * sqrt(2/n), {args.floor:g}))", file=sys.stderr)
    failed = [c for c in claims if not c.ok]
    if failed:
        print(f"warning: {len(failed)} published claim(s) do not hold on this summary; "
              "`fedbench check` against it will fail", file=sys.stderr)
    return 0

"""``fedbench check``: regression check of a summary against its reference.

Exit 0 when every reference cell is inside its band and every applicable
published claim holds; 1 when a cell is outside its band (or has more diverged
seeds than the reference) or a claim fails; 2 when the input is unusable
(missing file, a reference cell missing from the summary, malformed CSV).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from fedbench.errors import UsageError

HELP = "check a summary's final accuracy against configs/expected/<name>.csv"


def configure(p: argparse.ArgumentParser) -> None:
    from fedbench.analysis.regression import CLOSE_TOL

    p.add_argument("--summary", required=True, type=Path,
                   help="reports/<name>/summary.csv from `fedbench aggregate`")
    p.add_argument("--expected", required=True, type=Path,
                   help="the reference, configs/expected/<name>.csv")
    p.add_argument("--close-tol", type=float, default=CLOSE_TOL,
                   help="max |FedProx - FedAvg| at 0%% stragglers (default: %(default)s)")


def execute(args: argparse.Namespace) -> int:
    from fedbench.analysis.regression import (
        cell_rows,
        check,
        claim_rows,
        format_table,
        read_expected,
        read_summary,
    )

    if not (math.isfinite(args.close_tol) and args.close_tol >= 0):
        raise UsageError(f"--close-tol must be a finite number >= 0 (got {args.close_tol})")
    expected = read_expected(args.expected)
    summary = read_summary(args.summary)
    result = check(summary, expected, close_tol=args.close_tol)

    meta = expected.meta
    if meta:
        seeds = meta.get("seeds")
        print(f"reference {args.expected}: fedbench {meta.get('fedbench_version', '?')}, "
              f"commit {meta.get('git_commit') or '?'}, seeds {seeds if seeds else '?'}, "
              f"{meta.get('created', '?')}; {meta.get('band_rule', '')} "
              f"(k={meta.get('k', '?')}, floor={meta.get('floor', '?')})")
    else:
        print(f"reference {args.expected} (no .meta.json provenance file)")
    print(format_table(*cell_rows(result.cells, with_ok=True)))
    if result.claims:
        print()
        print(format_table(*claim_rows(result.claims)))
    if result.unchecked:
        print(f"\nnot in the reference (unchecked): {'; '.join(result.unchecked)}")

    n_cells, n_claims = len(result.cells), len(result.claims)
    if result.ok:
        print(f"\nOK: {n_cells} cell(s) inside their band, {n_claims} claim(s) hold")
        return 0
    failed, failed_claims = result.failed_cells, result.failed_claims
    print(f"\nFAIL: {len(failed)} of {n_cells} cell(s) outside their band, "
          f"{len(failed_claims)} of {n_claims} claim(s) failed", file=sys.stderr)
    if len(failed):
        print(format_table(*cell_rows(failed, with_ok=False)), file=sys.stderr)
    if failed_claims:
        if len(failed):
            print(file=sys.stderr)
        print(format_table(*claim_rows(failed_claims)), file=sys.stderr)
    return 1

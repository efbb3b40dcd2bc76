"""Compare the results of two runs of the same grid, apart from timings.

    python tests/engines/compare_runs.py DIR_A DIR_B [--ignore COLUMN ...]

DIR_A and DIR_B are the working directories (or results/report folders) of two runs of one
config, e.g. a local run and one through a cluster or another Flower engine. Every
``rounds.csv`` (one per cell, plus the aggregated one of the report) and every
``summary.csv`` found below DIR_A must exist at the same relative path below DIR_B and the
other way round, with the same header, the same number of rows and the same text in every
field, except the timing columns (``fedbench.apps.results.TIMING_COLUMNS``, wall seconds per
round) and any named with --ignore. The comparison is exact: a deterministic cell gives the
same digits on any engine of the same machine.

Exit status 0 when everything matches; 1 with one line naming the first difference (file,
row, column, both values); 2 for a usage error (a folder missing, no files to compare).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

COMPARED = ("rounds.csv", "summary.csv")


def timing_columns() -> set[str]:
    """The columns that hold wall-clock times: fedbench's own list, when it imports."""
    try:
        from fedbench.apps.results import TIMING_COLUMNS
    except ImportError:  # a comparison outside the project's environment
        TIMING_COLUMNS = ("seconds",)
    return set(TIMING_COLUMNS)


def result_files(root: Path) -> dict[str, Path]:
    """Every compared file below root, by its path relative to root."""
    skipped = {".snakemake", "logs"}  # Snakemake's bookkeeping and job logs: not results
    found = {}
    for name in COMPARED:
        for path in root.rglob(name):
            relative = path.relative_to(root)
            if not skipped.intersection(relative.parts):
                found[relative.as_posix()] = path
    return dict(sorted(found.items()))


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return [], []
    return rows[0], rows[1:]


def first_difference(a: Path, b: Path, ignored: set[str], name: str) -> str | None:
    """None when the two CSV files agree outside the ignored columns, else what differs."""
    header_a, rows_a = read_csv(a)
    header_b, rows_b = read_csv(b)
    if header_a != header_b:
        return f"{name}: the columns differ: {header_a} vs {header_b}"
    if len(rows_a) != len(rows_b):
        return f"{name}: {len(rows_a)} rows vs {len(rows_b)} rows"
    kept = [i for i, column in enumerate(header_a) if column not in ignored]
    for number, (row_a, row_b) in enumerate(zip(rows_a, rows_b, strict=True), start=2):
        if len(row_a) != len(row_b):
            return f"{name} line {number}: {len(row_a)} fields vs {len(row_b)} fields"
        for i in kept:
            if row_a[i] != row_b[i]:
                return (f"{name} line {number}, column {header_a[i]!r}: "
                        f"{row_a[i]!r} vs {row_b[i]!r}")
    return None


def compare(dir_a: Path, dir_b: Path, ignored: set[str]) -> tuple[int, str]:
    """(exit status, message) of comparing the two folders' result files."""
    for folder in (dir_a, dir_b):
        if not folder.is_dir():
            return 2, f"not a folder: {folder}"
    files_a, files_b = result_files(dir_a), result_files(dir_b)
    if not files_a and not files_b:
        return 2, f"no {' or '.join(COMPARED)} below {dir_a} or {dir_b}"
    for missing_in, files, other in ((dir_b, files_a, files_b), (dir_a, files_b, files_a)):
        for name in files:
            if name not in other:
                return 1, f"{name}: missing in {missing_in}"
    for name, path_a in files_a.items():
        difference = first_difference(path_a, files_b[name], ignored, name)
        if difference:
            return 1, difference
    ignoring = ", ".join(sorted(ignored)) or "nothing"
    return 0, (f"identical: {len(files_a)} files ({sum(n.endswith('rounds.csv') for n in files_a)}"
               f" rounds.csv, {sum(n.endswith('summary.csv') for n in files_a)} summary.csv), "
               f"ignoring {ignoring}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir_a", type=Path)
    parser.add_argument("dir_b", type=Path)
    parser.add_argument("--ignore", action="append", default=[], metavar="COLUMN",
                        help="another column to leave out of the comparison (repeatable)")
    args = parser.parse_args(argv)
    status, message = compare(args.dir_a, args.dir_b, timing_columns() | set(args.ignore))
    print(f"compare_runs: {message}", file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())

"""What running a grid through SLURM costs next to a local run (tests/engines/slurm/run.sh).

    python tests/engines/slurm/overhead.py --local-seconds S --slurm-seconds S
        --local DIR --slurm DIR --slurmctld-log FILE --snakemake-log FILE...

Prints (1) the two wall times and their difference per sbatch job, and (2) where a job's time
goes: each successful simulate job's time from start to end in slurmctld's log, against the
cell's own time inside it (Snakemake's benchmark file: the `fedbench run` command alone). The
rest is the price of a job: Snakemake starting again inside the job and the srun step.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from datetime import datetime
from pathlib import Path

STAMP = r"^\[(?P<time>[0-9T:.-]+)\] "
STARTED = re.compile(STAMP + r".*(?:Allocate|Started) JobId=(?P<job>\d+)")
COMPLETED = re.compile(STAMP + r"_job_complete: JobId=(?P<job>\d+) WEXITSTATUS 0$")
SUBMITTED = re.compile(r"submitted with SLURM jobid (?P<job>\d+) \(log: .*/rule_(?P<rule>\w+?)/")


def cell_seconds(workdir: Path) -> list[float]:
    """The in-job seconds of every simulate job (logs/<name>/benchmarks/**/*.tsv)."""
    values = []
    for path in sorted((workdir / "logs").glob("*/benchmarks/**/*.tsv")):
        with open(path, newline="") as handle:
            values.extend(float(r["s"]) for r in csv.DictReader(handle, delimiter="\t"))
    return values


def job_seconds(slurmctld_log: Path, snakemake_logs: list[Path], rule: str) -> list[float]:
    """Start to end of every job of `rule` that exited 0, from slurmctld's log."""
    rules = {}
    for log in snakemake_logs:
        for match in SUBMITTED.finditer(log.read_text(errors="replace")):
            rules[match["job"]] = match["rule"]
    started, ended = {}, {}
    for line in slurmctld_log.read_text(errors="replace").splitlines():
        for pattern, into in ((STARTED, started), (COMPLETED, ended)):
            match = pattern.match(line)
            if match:
                into.setdefault(match["job"], datetime.fromisoformat(match["time"]))
    return [(ended[j] - started[j]).total_seconds() for j in sorted(ended, key=int)
            if j in started and rules.get(j) == rule]


def mean(values: list[float]) -> str:
    return f"{statistics.mean(values):.1f} s" if values else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local-seconds", type=float, required=True)
    parser.add_argument("--slurm-seconds", type=float, required=True)
    parser.add_argument("--local", type=Path, required=True, help="the local run's workdir")
    parser.add_argument("--slurm", type=Path, required=True, help="the SLURM run's workdir")
    parser.add_argument("--slurmctld-log", type=Path, required=True)
    parser.add_argument("--snakemake-log", type=Path, action="append", required=True)
    args = parser.parse_args()

    submitted = sum(len(SUBMITTED.findall(log.read_text(errors="replace")))
                    for log in args.snakemake_log)
    extra = args.slurm_seconds - args.local_seconds
    print(f"overhead: grid wall time: local {args.local_seconds:.0f} s, SLURM "
          f"{args.slurm_seconds:.0f} s (both invocations): {extra:+.0f} s, "
          f"{extra / max(submitted, 1):+.1f} s per sbatch job ({submitted} submitted)")
    in_job = job_seconds(args.slurmctld_log, args.snakemake_log, "simulate")
    slurm_cells, local_cells = cell_seconds(args.slurm), cell_seconds(args.local)
    print(f"overhead: a simulate job under SLURM: {mean(in_job)} from start to end "
          f"({len(in_job)} jobs), of which the cell itself {mean(slurm_cells)}; "
          f"a local cell: {mean(local_cells)}")
    if in_job and slurm_cells:
        print(f"overhead: per job, inside the allocation: "
              f"{statistics.mean(in_job) - statistics.mean(slurm_cells):+.1f} s "
              "(Snakemake starting in the job, the srun step)")


if __name__ == "__main__":
    main()

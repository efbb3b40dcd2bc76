"""Item 4: a job's start-up, and the default grid end to end with Snakemake.

Start-up is what a ``fedbench run`` process spends besides its rounds: the
process's wall time with one round, minus that round's ``seconds`` (so it counts
interpreter start, imports, MNIST check, partition and data load, the initial
evaluation and writing the results). ``python -c "import torch"`` is timed
beside it: the part no change to fedbench can remove.

The grid benchmark runs the repository's Snakefile in a scratch directory
(``configs/`` and ``resources/`` linked in, nothing written to the repo) with
``--cores 2``: the whole default grid with ``--bench-grid`` (about five
minutes), otherwise a two-round grid of one cell per registered algorithm -- so the
workflow stays exercised.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys

import harness
import pytest


def test_job_startup(benchmark, size, mnist_root, bench_out, figures) -> None:
    cfg = harness.cell_config(mnist_root, size, rounds=1)
    out = bench_out / "startup"
    cmd = harness.fedbench_command(cfg, out)
    startups, walls, rows = [], [], []

    def one_job() -> None:
        wall, _, code, log = harness.run_process(cmd)
        assert code == 0, log[-3000:]
        got = harness.read_rounds(out)
        rows.append(harness.metric_rows(got))
        walls.append(wall)
        startups.append(wall - sum(harness.round_seconds(got)))

    one_job()  # warm the page cache
    for _ in range(size.startup_runs):
        one_job()
    benchmark.pedantic(one_job, rounds=1, iterations=1)
    assert all(r == rows[0] for r in rows)  # the same job, the same numbers

    torch_import = []
    for _ in range(max(1, size.startup_runs)):
        wall, _, code, _ = harness.run_process([sys.executable, "-c", "import torch"])
        assert code == 0
        torch_import.append(wall)
    figures(
        "job_startup",
        startup_s=statistics.median(startups),
        process_with_one_round_s=statistics.median(walls),
        python_import_torch_s=statistics.median(torch_import),
        startup_beyond_torch_import_s=statistics.median(startups) - statistics.median(torch_import),
        runs=len(startups),
    )


def _snakemake_grid(workdir, data_root, extra: list[str]) -> tuple[float, int, str]:
    """Run the repo's Snakefile from scratch in ``workdir``; (wall s, exit code, output)."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "configs").symlink_to(harness.REPO / "configs")
    (workdir / "resources").symlink_to(os.path.abspath(data_root))
    cmd = [
        str(harness.VENV_BIN / "snakemake"),
        "-s",
        str(harness.REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "2",
        *extra,
    ]
    wall, _, code, log = harness.run_process(cmd, timeout=3600)
    return wall, code, log


def _jobs(workdir) -> list[tuple[float, float, float]]:
    """Per simulate job: (wall s, CPU s, start-up s) from Snakemake's benchmark file.

    Start-up is the job's wall time minus the seconds of its rounds 1..R.
    """
    out = []
    for tsv in sorted(workdir.glob("logs/*/benchmarks/**/*.tsv")):
        rel = tsv.relative_to(workdir / "logs").with_suffix("")
        name, cell = rel.parts[0], rel.relative_to(rel.parts[0], "benchmarks")
        header, values = (line.split("\t") for line in tsv.read_text().splitlines()[:2])
        row = dict(zip(header, values, strict=True))
        rounds = harness.read_rounds(workdir / "results" / name / cell)
        wall = float(row["s"])
        out.append((wall, float(row["cpu_time"]), wall - sum(harness.round_seconds(rounds))))
    return out


def _variants() -> str:
    """One variant per registered algorithm, as a YAML flow sequence (a new algorithm is timed
    too): ``harness.CELL``'s μ where the algorithm has a proximal term, else 0."""
    from fedbench.algorithms import names, registry

    mus = {name: float(harness.CELL["mu"]) if registry()[name].uses_mu else 0.0
           for name in names()}
    return ", ".join(f"{{algorithm: {name}, mu: {mu}}}" for name, mu in mus.items())


def test_default_grid_with_snakemake(
    request, benchmark, size, mnist_root, bench_out, figures
) -> None:
    full = request.config.getoption("--bench-grid")
    if size.name == "full" and not full:
        pytest.skip("the full grid takes about 5 minutes: pass --bench-grid to time it")
    workdir = bench_out / ("grid-full" if full else "grid-small")
    extra = (
        []
        if full
        else [
            "--config",
            "name=benchsmall",
            "federation={rounds: 2, num_clients: 100}",
            f"grid={{variants: [{_variants()}], stragglers: [0.9], seeds: [0]}}",
        ]
    )
    result = {}

    def grid() -> None:
        result["wall"], code, log = _snakemake_grid(workdir, mnist_root, extra)
        assert code == 0, log[-5000:]

    benchmark.pedantic(grid, rounds=1, iterations=1)
    pdfs = list(workdir.glob("reports/*/report.pdf"))
    assert pdfs, "the grid made no report.pdf"
    cells = list(workdir.glob("results/*/*/seed*/rounds.csv"))
    # each cell of the grid equals the same cell run by hand (the in-process path)
    sample = sorted(cells)[0]
    name = sample.parts[-4]
    algorithm, mu, sf = sample.parts[-3].replace("-mu", " ").replace("-sf", " ").split()
    seed = int(sample.parts[-2].removeprefix("seed"))
    rounds = len(harness.read_rounds(sample.parent)) - 1
    cfg = harness.cell_config(
        mnist_root,
        harness.FULL if full else size,
        rounds=rounds,
        algorithm=algorithm,
        mu=float(mu),
        stragglers=float(sf),
        seed=seed,
    )
    direct = harness.flower_inprocess(cfg, bench_out / f"grid-direct-{name}")
    assert harness.metric_rows(direct) == harness.metric_rows(harness.read_rounds(sample.parent))
    jobs = _jobs(workdir)
    startups = [j[2] for j in jobs] or [float("nan")]
    figures(
        "default_grid" if full else "small_grid",
        wall_s=result["wall"],
        cells=len(cells),
        jobs_cpu_s=sum(j[1] for j in jobs),
        job_wall_median_s=statistics.median(j[0] for j in jobs) if jobs else float("nan"),
        job_startup_median_s=statistics.median(startups),
        job_startup_max_s=max(startups),
        load_1min_after=os.getloadavg()[0],
    )

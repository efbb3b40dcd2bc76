"""Item 5: peak memory of one run (a whole ``fedbench run`` process, its maximum RSS).

The run's numbers must equal the same cell run in this process.
"""

from __future__ import annotations

import harness


def test_peak_memory_of_one_run(benchmark, size, mnist_root, bench_out, figures) -> None:
    rounds = 100 if size.name == "full" else size.rounds
    cfg = harness.cell_config(mnist_root, size, rounds=rounds)
    out = bench_out / "memory"
    result = {}

    def run() -> None:
        result["wall"], result["rss_kib"], code, log = harness.run_process(
            harness.fedbench_command(cfg, out)
        )
        assert code == 0, log[-3000:]

    benchmark.pedantic(run, rounds=1, iterations=1)
    direct = harness.flower_inprocess(cfg, bench_out / "memory-direct")
    assert harness.metric_rows(harness.read_rounds(out)) == harness.metric_rows(direct)
    benchmark.extra_info.update(peak_rss_mib=result["rss_kib"] / 1024)
    figures(
        "peak_memory", peak_rss_mib=result["rss_kib"] / 1024, rounds=rounds, wall_s=result["wall"]
    )

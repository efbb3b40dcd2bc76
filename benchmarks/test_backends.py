"""Item 1: one flower-baseline round, in-process Grid vs Flower's Simulation Engine (Ray).

Both backends run the same cell through ``fedbench run`` (a fresh process each);
a round's time is the ``seconds`` column of rounds.csv (end of one central
evaluation to the end of the next: configure, train, aggregate, evaluate).
Round 1 of the Ray run pays for its actors' start and data load, so rounds 2..R
of both runs are compared. The numbers of every round must be identical.
"""

from __future__ import annotations

import statistics

import harness
import pytest


@pytest.mark.ray
def test_inprocess_round_vs_ray_round(benchmark, size, mnist_root, bench_out, figures) -> None:
    cfg_ray = harness.cell_config(mnist_root, size, rounds=size.ray_rounds, backend="ray")
    cfg_inp = harness.cell_config(mnist_root, size, rounds=size.ray_rounds, backend="inprocess")
    ray_out, inp_out = bench_out / "backend-ray", bench_out / "backend-inprocess"

    wall_ray, _, code, log = harness.run_process(harness.fedbench_command(cfg_ray, ray_out))
    assert code == 0, log[-3000:]

    def inprocess_cell() -> list:
        _, _, code, log = harness.run_process(harness.fedbench_command(cfg_inp, inp_out))
        assert code == 0, log[-3000:]
        return harness.read_rounds(inp_out)

    rows_inp = benchmark.pedantic(inprocess_cell, rounds=1, iterations=1)
    rows_ray = harness.read_rounds(ray_out)
    assert harness.metric_rows(rows_inp) == harness.metric_rows(rows_ray)

    ray_rounds = harness.round_seconds(rows_ray)[1:]
    inp_rounds = harness.round_seconds(rows_inp)[1:]
    ray_round, inp_round = statistics.median(ray_rounds), statistics.median(inp_rounds)
    benchmark.extra_info.update(
        ray_round_s=ray_round, inprocess_round_s=inp_round, ratio=ray_round / inp_round
    )
    figures(
        "round_backends",
        ray_round_ms=ray_round * 1e3,
        inprocess_round_ms=inp_round * 1e3,
        ray_over_inprocess=ray_round / inp_round,
        ray_first_round_s=harness.round_seconds(rows_ray)[0],
        ray_process_s=wall_ray,
        rounds_compared=len(ray_rounds),
        identical=True,
    )

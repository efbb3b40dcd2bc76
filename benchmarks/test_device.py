"""Item 6: the same cell on the GPU (``--device cuda``) against the CPU, where a GPU exists.

Skipped, with the reason, on machines without CUDA. Floating-point results on a
GPU are not bit-identical to the CPU's (other kernels, other summation orders),
so the check is: everything the server decides (clients, stragglers, examples)
identical, losses and accuracies within 1 % (float32 differences compound over rounds), and two GPU
runs of the cell identical to each other.
"""

from __future__ import annotations

import math
import statistics

import harness
import pytest
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device here: CPU vs GPU not measured"
)

DECISIONS = ("round", "sampled", "n_stragglers", "dropped", "failed", "examples")


def test_cpu_vs_gpu_round(benchmark, size, mnist_root, bench_out, figures) -> None:
    cpu = harness.cell_config(mnist_root, size, device="cpu")
    gpu = harness.cell_config(mnist_root, size, device="cuda")
    rows_cpu = harness.flower_inprocess(cpu, bench_out / "device-cpu")
    rows_gpu = harness.flower_inprocess(gpu, bench_out / "device-cuda")
    rows_gpu2 = benchmark.pedantic(
        lambda: harness.flower_inprocess(gpu, bench_out / "device-cuda2"), rounds=1, iterations=1
    )
    assert harness.metric_rows(rows_gpu) == harness.metric_rows(rows_gpu2)
    for a, b in zip(rows_cpu, rows_gpu, strict=True):
        assert all(float(a[c]) == float(b[c]) for c in DECISIONS)
        for c in ("test_loss", "test_accuracy", "train_loss"):
            x, y = float(a[c]), float(b[c])
            assert (math.isnan(x) and math.isnan(y)) or math.isclose(
                x, y, rel_tol=1e-2, abs_tol=1e-2
            )
    t_cpu = statistics.median(harness.round_seconds(rows_cpu)[1:])
    t_gpu = statistics.median(harness.round_seconds(rows_gpu2)[1:])
    figures(
        "cpu_vs_gpu",
        cpu_round_ms=t_cpu * 1e3,
        gpu_round_ms=t_gpu * 1e3,
        cpu_over_gpu=t_cpu / t_gpu,
        device=torch.cuda.get_device_name(0),
    )

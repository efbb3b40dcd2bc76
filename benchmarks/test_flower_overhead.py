"""Item 2: what Flower costs on the in-process path, against a plain loop without it.

The Flower path is the real ServerApp (strategy, messages, records, Grid) and
ClientApp; the plain loop calls the same ``local_update`` for the same clients
and averages with the same float32 arithmetic (``harness.plain_loop``). Both
run in this process, alternately, after a warm-up that has loaded every
client's data; the ratio is taken per pair over the rounds' summed ``seconds``
(rounds 1..R, each ending with the central evaluation) and its median reported.
The CPU-time ratio of the whole calls (which also count the run's one-off work:
building the strategy, writing run.json) is reported beside it.
"""

from __future__ import annotations

import statistics
import time

import harness


def test_flower_overhead_vs_plain_loop(benchmark, size, mnist_root, bench_out, figures) -> None:
    cfg = harness.cell_config(mnist_root, size)
    out = bench_out / "overhead-flower"
    last: dict[str, list] = {}

    def flower() -> None:
        last["flower"] = harness.flower_inprocess(cfg, out)

    def plain() -> None:
        last["plain"] = harness.plain_loop(cfg)

    cpu_flower, cpu_plain = harness.interleaved(
        flower, plain, size.repeats, clock=time.process_time
    )
    # per-round wall figures of the same pairs: rerun alternately, keeping each pair's sums
    pairs = []
    for _ in range(size.repeats):
        flower()
        plain()
        pairs.append(
            (sum(harness.round_seconds(last["flower"])), sum(harness.round_seconds(last["plain"])))
        )
        assert harness.metric_rows(last["flower"]) == harness.metric_rows(last["plain"])

    rows = benchmark.pedantic(lambda: harness.flower_inprocess(cfg, out), rounds=1, iterations=1)
    assert harness.metric_rows(rows) == harness.metric_rows(last["plain"])

    ratio = statistics.median(f / p for f, p in pairs)
    per_round_flower = statistics.median(f for f, _ in pairs) / cfg.federation.rounds
    per_round_plain = statistics.median(p for _, p in pairs) / cfg.federation.rounds
    benchmark.extra_info.update(ratio=ratio)
    figures(
        "flower_overhead",
        flower_over_plain=ratio,
        flower_round_ms=per_round_flower * 1e3,
        plain_round_ms=per_round_plain * 1e3,
        cpu_ratio_whole_call=harness.median_ratio(cpu_flower, cpu_plain),
        rounds=cfg.federation.rounds,
        pairs=len(pairs),
        identical=True,
    )

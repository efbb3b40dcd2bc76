"""Item 7: what each registered algorithm costs per in-process round, as a ratio to FedAvg's
round on the same cell, and SCAFFOLD's peak memory against FedAvg's.

Round cost: the harness cell (FedProx μ = 2 at 90 % stragglers, seed 0, the default grid's
settings: 1000 clients, logistic regression), and the same cell without stragglers, run with
every registered algorithm (μ = 2 where
it has a proximal term, else 0; its default params), through the real ServerApp/ClientApp on
the in-process Grid, in one process. The algorithms are run round-robin, ``repeats`` times
after a warm-up, so machine drift hits all of them alike; each repeat's round time (the sum of
rounds.csv ``seconds`` over rounds 1..R, central evaluation included, divided by R) is divided
by FedAvg's of the same repeat, and the median ratio reported. FedAvg drops the stragglers, so
at 90 % stragglers it trains fewer clients than the algorithms that keep their partial work;
the ratio to FedProx μ = 0 (the plain average of the same partial work) is reported beside it:
it is what an algorithm's own aggregation and client-side work cost. Without stragglers FedAvg
and FedProx μ = 0 are the same computation (checked: identical numbers), and the ratio to
FedAvg is that cost.

Peak memory: the maximum RSS of a whole ``fedbench run`` process, a 100-round SCAFFOLD cell
(its server keeps a control variate per client) against the same FedAvg cell and the same
FedProx μ = 0 cell. At 90 % stragglers FedAvg never loads the stragglers' data (it drops them
untrained), so SCAFFOLD − FedAvg counts the data of the clients SCAFFOLD trains as well;
SCAFFOLD − FedProx μ = 0 (the same clients trained) is the control variates' own cost.

Numbers identity: every repeat of an algorithm gives the same rounds as its first (a strategy
leaves nothing behind that changes the next run), and the SCAFFOLD process gives the numbers
of the same cell run in this process.
"""

from __future__ import annotations

import statistics

import harness
import pytest


def _variants() -> list[tuple[str, float]]:
    from fedbench.algorithms import baseline, registry

    order = [baseline().name] + [n for n in registry() if n != baseline().name]
    return [(n, float(harness.CELL["mu"]) if registry()[n].uses_mu else 0.0) for n in order]


@pytest.mark.parametrize("stragglers", [harness.CELL["stragglers"], 0.0])
def test_round_cost_of_each_algorithm(benchmark, size, mnist_root, bench_out, figures,
                                      stragglers) -> None:
    from fedbench.algorithms import baseline, registry

    variants = _variants()
    partial = next(n for n, a in registry().items() if a.uses_mu and not a.drop_stragglers)
    variants.append((partial, 0.0))  # the plain average keeping partial work: the second scale
    cfgs = {v: harness.cell_config(mnist_root, size, algorithm=v[0], mu=v[1],
                                   stragglers=stragglers) for v in variants}
    first: dict[tuple[str, float], list] = {}
    times: dict[tuple[str, float], list[float]] = {v: [] for v in variants}

    def run(v: tuple[str, float]) -> float:
        out = bench_out / f"algorithm-{v[0]}-mu{v[1]}-sf{stragglers}"
        rows = harness.flower_inprocess(cfgs[v], out)
        first.setdefault(v, harness.metric_rows(rows))
        assert harness.metric_rows(rows) == first[v], f"{v}: a repeat changed the numbers"
        return sum(harness.round_seconds(rows)) / cfgs[v].federation.rounds

    for v in variants:  # warm-up: every client's data loaded, every code path run once
        run(v)
    # the CI size checks the numbers, not the timings: one round-robin is enough
    for _ in range(size.repeats if size.name == "full" else 1):
        for v in variants:
            times[v].append(run(v))
    benchmark.pedantic(lambda: run(variants[0]), rounds=1, iterations=1)

    reference = (baseline().name, 0.0)
    if stragglers == 0:  # no straggler to drop or keep: the plain average is FedAvg, bit for bit
        assert first[(partial, 0.0)] == first[reference]
    for v in variants:  # the last: the plain average keeping partial work itself
        name, mu = v
        ratio = statistics.median(t / b for t, b in zip(times[v], times[reference], strict=True))
        vs_partial = statistics.median(
            t / b for t, b in zip(times[v], times[(partial, 0.0)], strict=True))
        figures("algorithm_round", algorithm=registry()[name].label(mu),
                round_ms=statistics.median(times[v]) * 1e3, over_fedavg=ratio,
                over_partial_work_average=vs_partial, rounds=cfgs[v].federation.rounds,
                repeats=len(times[v]), stragglers=cfgs[v].stragglers,
                drops_stragglers=registry()[name].drop_stragglers, identical=True)


def test_scaffold_peak_memory(benchmark, size, mnist_root, bench_out, figures) -> None:
    from fedbench.algorithms import baseline, registry

    rounds = 100 if size.name == "full" else size.rounds
    partial = next(n for n, a in registry().items() if a.uses_mu and not a.drop_stragglers)
    # FedAvg drops the stragglers without loading their data; the plain average keeping partial
    # work (FedProx μ=0) trains the clients SCAFFOLD trains: the difference to it is what the
    # control variates (and their checkpointing) cost
    names = {"fedavg": baseline().name, "partial_work_average": partial, "scaffold": "scaffold"}
    peaks = {}
    for key, name in names.items():
        cfg = harness.cell_config(mnist_root, size, rounds=rounds, algorithm=name, mu=0.0)
        out = bench_out / f"memory-{name}"

        def run(cfg=cfg, out=out, key=key) -> None:
            wall, rss_kib, code, log = harness.run_process(harness.fedbench_command(cfg, out))
            assert code == 0, log[-3000:]
            peaks[key] = (rss_kib / 1024, wall)

        if key == "scaffold":
            benchmark.pedantic(run, rounds=1, iterations=1)
            direct = harness.flower_inprocess(cfg, bench_out / "memory-scaffold-direct")
            assert harness.metric_rows(harness.read_rounds(out)) == harness.metric_rows(direct)
        else:
            run()
    figures("scaffold_memory", scaffold_peak_rss_mib=peaks["scaffold"][0],
            fedavg_peak_rss_mib=peaks["fedavg"][0],
            partial_work_average_peak_rss_mib=peaks["partial_work_average"][0],
            scaffold_minus_fedavg_mib=peaks["scaffold"][0] - peaks["fedavg"][0],
            scaffold_minus_partial_work_average_mib=(peaks["scaffold"][0]
                                                     - peaks["partial_work_average"][0]),
            clients=size.num_clients, rounds=rounds, stragglers=harness.CELL["stragglers"],
            scaffold_wall_s=peaks["scaffold"][1], identical=True)

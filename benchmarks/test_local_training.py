"""Item 3: local training of a round against the round's FLOP floor.

For each of the cell's first rounds, the sampled clients (with their straggler
epochs) train from the same global model with ``fedbench.fl.training.train_logreg``
and with the step-by-step reference solver it replaced
(``harness.reference_train_logreg``); the two must agree bit for bit. The FLOP
floor is the round's arithmetic (``harness.round_flops``: both GEMMs per sample,
softmax, gradient, update) divided by this machine's single-thread float32 matmul
rate measured in the same run (``harness.peak_flops``).
"""

from __future__ import annotations

import statistics

import harness
import torch

from fedbench.apps.federation import cached_federated
from fedbench.apps.server_app import make_strategy
from fedbench.fl.models import build_model
from fedbench.fl.sampling import plan_round
from fedbench.fl.training import LocalSGD, epoch_orders, train_logreg


def _round_jobs(cfg, data, rnd: int):
    strategy = make_strategy(cfg)
    jobs = []
    for t in plan_round(
        cfg.seed,
        rnd,
        cfg.federation.num_clients,
        strategy.per_round,
        cfg.training.local_epochs,
        strategy.straggler_rate,
        strategy.straggler_rule,
    ):
        if t.straggler and strategy.drop_stragglers:
            continue
        x, y = data.client(t.partition)
        jobs.append(
            (x, y, t.epochs, epoch_orders(x.shape[0], t.epochs, cfg.seed, rnd, t.partition))
        )
    return jobs


def test_local_training_vs_flop_floor(benchmark, size, mnist_root, figures) -> None:
    torch.set_num_threads(1)
    cfg = harness.cell_config(mnist_root, size)
    data = cached_federated(str(mnist_root), cfg.protocol, cfg.federation.num_clients, cfg.seed)
    params = {
        k: v.detach().clone() for k, v in build_model("logreg", cfg.seed).state_dict().items()
    }
    sgd = LocalSGD(cfg.training.lr, cfg.training.weight_decay, cfg.training.batch_size, cfg.mu)
    rounds = [_round_jobs(cfg, data, r) for r in range(1, size.train_rounds + 1)]

    for jobs in rounds:  # identical numbers, client by client
        for x, y, epochs, orders in jobs:
            fast = train_logreg(params, x, y, epochs, sgd, orders)
            ref = harness.reference_train_logreg(params, x, y, epochs, sgd, orders)
            assert harness.same_result(fast, ref)

    # the machine's best single-thread matmul rate, sampled between the rounds' timings
    peak = harness.peak_flops()
    timed = []
    for jobs in rounds:

        def fast_round(jobs=jobs) -> None:
            for x, y, epochs, orders in jobs:
                train_logreg(params, x, y, epochs, sgd, orders)

        def ref_round(jobs=jobs) -> None:
            for x, y, epochs, orders in jobs:
                harness.reference_train_logreg(params, x, y, epochs, sgd, orders)

        t_fast, t_ref = harness.interleaved(fast_round, ref_round, max(3, size.repeats))
        flops = harness.round_flops(
            [(x.shape[0], e) for x, _, e, _ in jobs], cfg.training.batch_size, bool(cfg.mu)
        )
        timed.append((flops, t_fast, t_ref))
        peak = max(peak, harness.peak_flops(repeats=3))
    # ratio to the floor: best time against best rate (the least disturbed runs of each), and
    # the median time against the best rate beside it
    floors = [flops / peak for flops, _, _ in timed]
    best_ratios = [min(tf) / fl for (_, tf, _), fl in zip(timed, floors, strict=True)]
    floor_ratios = [
        statistics.median(tf) / fl for (_, tf, _), fl in zip(timed, floors, strict=True)
    ]
    fast_ms = [statistics.median(tf) * 1e3 for _, tf, _ in timed]
    floor_ms = [fl * 1e3 for fl in floors]
    speedups = [harness.median_ratio(tr, tf) for _, tf, tr in timed]

    def all_rounds() -> None:
        for jobs in rounds:
            for x, y, epochs, orders in jobs:
                train_logreg(params, x, y, epochs, sgd, orders)

    benchmark.pedantic(all_rounds, rounds=3, iterations=1)
    steps = statistics.median(
        sum(e * -(-x.shape[0] // cfg.training.batch_size) for x, _, e, _ in jobs) for jobs in rounds
    )
    benchmark.extra_info.update(floor_ratio_best=statistics.median(best_ratios))
    figures(
        "local_training",
        over_flop_floor_best=statistics.median(best_ratios),
        over_flop_floor_median=statistics.median(floor_ratios),
        round_ms=statistics.median(fast_ms),
        floor_ms=statistics.median(floor_ms),
        peak_gflops=peak / 1e9,
        speedup_vs_reference=statistics.median(speedups),
        steps_per_round=steps,
        rounds=len(rounds),
        identical=True,
    )

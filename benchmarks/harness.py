"""What the benchmarks share: the cells, the reference paths, timing by interleaved pairs.

Reference paths, each producing the numbers its fast counterpart must equal bit for bit:

- ``plain_loop``: one cell's rounds without Flower -- the same sampling, the same
  ``client_app.local_update``, the same weighted average (Flower's own float32
  arithmetic, in the same order), the same central evaluation -- as a plain loop.
- ``reference_train_logreg``: the textbook one-op-at-a-time local solver that
  ``fedbench.fl.training.train_logreg`` replaced (kept here verbatim).

Speed is measured as a ratio of two paths timed alternately (A B A B ...) in one
process, so machine drift and other load hit both; medians are reported.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedbench.apps.results import ROUND_COLUMNS, TIMING_COLUMNS

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
METRIC_COLUMNS = tuple(c for c in ROUND_COLUMNS if c not in TIMING_COLUMNS)


# --- sizes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """How much each benchmark does: ``full`` for the figures, ``small`` for CI."""

    name: str
    num_clients: int
    rounds: int  # rounds of the in-process / plain-loop comparisons
    ray_rounds: int  # rounds of the Ray run (round 1 is warm-up, not counted)
    repeats: int  # interleaved pairs per ratio
    train_rounds: int  # rounds whose local training is timed against the FLOP floor
    startup_runs: int  # whole-process runs for the start-up figure


FULL = Size(
    "full", num_clients=1000, rounds=20, ray_rounds=6, repeats=7, train_rounds=20, startup_runs=5
)
SMALL = Size(
    "small", num_clients=100, rounds=3, ray_rounds=3, repeats=2, train_rounds=2, startup_runs=1
)


# --- cells ---------------------------------------------------------------------------------------

# the published figure's hardest cell: FedProx μ=2 at 90 % stragglers
CELL = {"algorithm": "fedprox", "mu": 2.0, "stragglers": 0.9, "seed": 0}


def cell_config(
    root: Path | str,
    size: Size,
    rounds: int | None = None,
    backend: str = "inprocess",
    device: str = "cpu",
    **cell: Any,
):
    """The default grid's settings (configs/default.yaml) for one cell, resized."""
    from fedbench.config import load_experiment

    experiment = load_experiment(REPO / "configs" / "default.yaml")
    spec = {**CELL, **cell}
    cfg = experiment.cell(spec["algorithm"], spec["mu"], spec["stragglers"], spec["seed"])
    return cfg.model_copy(
        update={
            "data": cfg.data.model_copy(update={"root": str(root)}),
            "federation": cfg.federation.model_copy(
                update={
                    "num_clients": size.num_clients,
                    "rounds": rounds or size.rounds,
                    "clients_per_round": min(cfg.federation.clients_per_round, size.num_clients),
                }
            ),
            "runtime": cfg.runtime.model_copy(
                update={"backend": backend, "device": device, "threads": 1}
            ),
        }
    )


def cli_args(cfg, out: Path) -> list[str]:
    """``fedbench run`` options for ``cfg`` (with a config file written next to ``out``)."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    conf = out.parent / f"{out.name}.yaml"
    body = cfg.model_dump(exclude={"algorithm", "mu", "params", "stragglers", "seed"})
    body["grid"] = {
        "variants": [{"algorithm": cfg.algorithm, "mu": cfg.mu, "params": dict(cfg.params)}],
        "stragglers": [cfg.stragglers],
        "seeds": [cfg.seed],
    }
    conf.write_text(yaml.safe_dump(body))
    return [
        "run",
        "--config",
        str(conf),
        "--algorithm",
        cfg.algorithm,
        "--mu",
        str(cfg.mu),
        "--stragglers",
        str(cfg.stragglers),
        "--seed",
        str(cfg.seed),
        *(a for k, v in sorted(cfg.params.items()) for a in ("--set", f"params.{k}={v!r}")),
        "--out",
        str(out),
        "--quiet",
    ]


def fedbench_command(cfg, out: Path) -> list[str]:
    return [str(VENV_BIN / "fedbench"), *cli_args(cfg, out)]


def read_rounds(out: Path) -> list[dict[str, str]]:
    with (out / "rounds.csv").open() as f:
        return list(csv.DictReader(f))


def metric_rows(rows: list[dict[str, Any]]) -> list[tuple]:
    """The per-round numbers (everything but timing), as exact values."""

    def exact(value: Any) -> Any:
        number = float(value)
        return "nan" if math.isnan(number) else number

    return [tuple(exact(r[c]) for c in METRIC_COLUMNS) for r in rows]


def round_seconds(rows: list[dict[str, Any]]) -> list[float]:
    """Per-round wall seconds of rounds 1.. (round 0 is the initial evaluation)."""
    return [float(r["seconds"]) for r in rows if int(float(r["round"])) > 0]


# --- the Flower path, in this process ------------------------------------------------------------


def flower_inprocess(cfg, out: Path) -> list[dict[str, str]]:
    """One cell through the real ServerApp/ClientApp on the in-process Grid; its rounds.csv rows."""
    from fedbench.apps.backends.inprocess import run_inprocess
    from fedbench.apps.client_app import app as client_app
    from fedbench.apps.run import quiet_flower
    from fedbench.apps.server_app import make_server_app

    quiet_flower()
    torch.set_num_threads(cfg.runtime.threads)
    run_inprocess(make_server_app(cfg, out, quiet=True), client_app, cfg.federation.num_clients)
    return read_rounds(out)


# --- the plain loop (reference for the Flower overhead) ------------------------------------------


def plain_loop(cfg) -> list[dict[str, Any]]:
    """The cell without Flower: same clients, same local training, same float32 averaging.

    Mirrors ``fedbench.algorithms.base`` (sampling, stragglers, sorted replies, FedAvg's
    dropping of stragglers) and Flower's ``aggregate_arrayrecords`` (weights
    ``n_i / sum n``, ``acc = a_0*w_0; acc += a_i*w_i`` in numpy float32), so its
    rows must equal the Flower path's rounds.csv exactly.
    """
    from fedbench.apps.client_app import local_update
    from fedbench.apps.federation import cached_federated
    from fedbench.apps.server_app import make_strategy
    from fedbench.fl.models import build_model
    from fedbench.fl.sampling import plan_round
    from fedbench.fl.training import evaluate

    torch.set_num_threads(cfg.runtime.threads)
    device = cfg.runtime.device
    strategy = make_strategy(cfg)
    template = strategy.template
    data = cached_federated(
        cfg.data.root, cfg.protocol, cfg.federation.num_clients, cfg.seed, device
    )
    model = build_model(cfg.training.model, cfg.seed).to(device)
    arrays = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    rows: list[dict[str, Any]] = []
    last = time.perf_counter()

    def central(rnd: int, extra: dict[str, Any]) -> None:
        nonlocal last
        params = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
        loss, acc = evaluate(cfg.training.model, model, params, data.test_x, data.test_y)
        now = time.perf_counter()
        rows.append(
            {
                "round": rnd,
                "test_loss": loss,
                "test_accuracy": acc,
                **extra,
                "global_train_loss": float("nan"),  # centralized evaluation only
                "seconds": now - last,
            }
        )
        last = now

    central(
        0,
        {
            "sampled": 0,
            "n_stragglers": 0,
            "dropped": 0,
            "failed": 0,
            "examples": 0,
            "train_loss": float("nan"),
        },
    )
    for rnd in range(1, cfg.federation.rounds + 1):
        tasks = plan_round(
            cfg.seed,
            rnd,
            cfg.federation.num_clients,
            strategy.per_round,
            template.epochs,
            strategy.straggler_rate,
            strategy.straggler_rule,
        )
        global_params = {k: torch.from_numpy(v.copy()).to(device) for k, v in arrays.items()}
        replies = []
        for t in sorted(tasks, key=lambda t: t.partition):
            if t.straggler and strategy.drop_stragglers:
                replies.append((t, 0, None, None))
                continue
            ins = replace(
                template,
                partition_id=t.partition,
                epochs=t.epochs,
                straggler=t.straggler,
                drop_straggler=strategy.drop_stragglers,
                server_round=rnd,
            )
            result, n = local_update(ins, global_params)
            replies.append(
                (t, n, result.loss, {k: v.cpu().numpy() for k, v in result.params.items()})
            )
        kept = [r for r in replies if r[2] is not None]
        examples = sum(n for _, n, _, _ in kept)
        train_loss = (
            sum(loss * n for _, n, loss, _ in kept) / examples if examples else float("nan")
        )
        if kept:
            total = sum(n for _, n, _, _ in kept)
            acc: dict[str, np.ndarray] = {}
            for _, n, _, params in kept:
                for k, v in params.items():
                    if k not in acc:
                        acc[k] = v * (n / total)
                    else:
                        acc[k] += v * (n / total)
            arrays = acc
        central(
            rnd,
            {
                "sampled": len(tasks),
                "n_stragglers": sum(t.straggler for t in tasks),
                "dropped": len(replies) - len(kept),
                "failed": 0,
                "examples": examples,
                "train_loss": train_loss,
            },
        )
    return rows


# --- the reference local solver ------------------------------------------------------------------


def reference_train_logreg(params, x, y, epochs, sgd, orders):
    """fedbench.fl.training.train_logreg as it was before the speed work (one op at a time)."""
    from fedbench.fl.training import TrainResult

    w_global, b_global = params["fc.weight"], params["fc.bias"]
    w, b = w_global.clone(), b_global.clone()
    lr, mu, decay = sgd.lr, sgd.mu, sgd.weight_decay
    keep = 1.0 - lr * (decay + mu)
    eye = torch.eye(w.shape[0], dtype=x.dtype, device=x.device)
    bs = sgd.batch_size
    n = x.shape[0]
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    steps = 0
    for order in orders[:epochs]:
        idx = torch.from_numpy(order).to(x.device)
        xe, ye = x.index_select(0, idx), y.index_select(0, idx)
        targets = eye.index_select(0, ye)
        for s in range(0, n, bs):
            xb, tb = xe[s : s + bs], targets[s : s + bs]
            logp = torch.log_softmax(torch.addmm(b, xb, w.t()), dim=1)
            loss_sum -= (logp * tb).sum()
            g = logp.exp_().sub_(tb).div_(xb.shape[0])
            gw, gb = torch.mm(g.t(), xb), g.sum(0)
            w.mul_(keep).add_(gw, alpha=-lr)
            b.mul_(keep).add_(gb, alpha=-lr)
            if mu:
                w.add_(w_global, alpha=lr * mu)
                b.add_(b_global, alpha=lr * mu)
            steps += 1
    seen = n * min(epochs, len(orders))
    loss = float(loss_sum) / seen if seen else float("nan")
    return TrainResult({"fc.weight": w, "fc.bias": b}, loss, steps)


def same_result(a, b) -> bool:
    """Bit-identical TrainResults (NaN losses count as equal)."""
    loss_ok = a.loss == b.loss or (math.isnan(a.loss) and math.isnan(b.loss))
    return (
        loss_ok
        and a.steps == b.steps
        and a.params.keys() == b.params.keys()
        and all(torch.equal(a.params[k], b.params[k]) for k in a.params)
    )


# --- FLOPs ---------------------------------------------------------------------------------------


def step_flops(m: int, d: int = 784, k: int = 10, mu: bool = False) -> int:
    """Arithmetic of one local step on a batch of ``m`` (the closed-form logistic regression).

    Forward ``x·wᵀ + b`` (2mdk + mk), log-softmax and its exp (~4mk), gradient
    ``(p - t)/m`` (2mk), ``gᵀx`` (2mdk) and ``Σg`` (mk), update ``w·keep - lr·g``
    (3 per parameter) and the proximal pull (2 more).
    """
    params = d * k + k
    return 4 * m * d * k + 8 * m * k + params * (5 if mu else 3)


def round_flops(jobs: list[tuple[int, int]], batch: int, mu: bool) -> int:
    """FLOPs of a round's local training; ``jobs`` = [(samples, epochs)] per training client."""
    total = 0
    for n, epochs in jobs:
        full, rem = divmod(n, batch)
        per_epoch = full * step_flops(batch, mu=mu) + (step_flops(rem, mu=mu) if rem else 0)
        total += epochs * per_epoch
    return total


def peak_flops(size: int = 1024, repeats: int = 7) -> float:
    """This machine's single-thread float32 matmul rate (FLOP/s): the FLOP floor's denominator."""
    torch.set_num_threads(1)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / min(times)


# --- timing --------------------------------------------------------------------------------------


def interleaved(
    a: Callable[[], Any],
    b: Callable[[], Any],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """Time ``a`` and ``b`` alternately ``repeats`` times (after one warm-up of each)."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = clock()
        a()
        t1 = clock()
        b()
        t2 = clock()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return ta, tb


def median_ratio(ta: list[float], tb: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(ta, tb, strict=True))


def report(name: str, **figures: Any) -> str:
    """One greppable line per figure: ``BENCH name key=value ...``."""

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    line = f"BENCH {name} " + " ".join(f"{k}={fmt(v)}" for k, v in figures.items())
    print("\n" + line, flush=True)
    results = os.environ.get("FEDBENCH_BENCH_RESULTS")
    if results:
        with open(results, "a") as f:
            f.write(line + "\n")
    return line


def run_process(cmd: list[str], timeout: float = 1800) -> tuple[float, int, int, str]:
    """Run ``cmd`` in the repo; return (wall seconds, peak RSS in KiB, exit code, its output)."""
    import tempfile

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        deadline = t0 + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    return wall, rusage.ru_maxrss, proc.returncode, output

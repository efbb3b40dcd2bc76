"""Flower ServerApp: runs one cell's strategy and writes its results to disk.

``serve`` is the whole server side of a cell: build the model and strategy,
evaluate centrally on the test set at round 0 and after every round, stop a
diverged run, and write ``rounds.csv`` and ``run.json`` atomically. It runs
unchanged under the in-process Grid, Flower's Simulation Engine and
``flwr run`` (through the module-level ``app``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp

from fedbench.algorithms import get_algorithm
from fedbench.algorithms.base import RoundLog
from fedbench.apps import checkpoint, flower_config, results
from fedbench.apps.evaluation import evaluate_global
from fedbench.apps.federation import cached_federated
from fedbench.apps.progress import Progress
from fedbench.config import RunConfig
from fedbench.fl.models import build_model
from fedbench.fl.wire import TrainInstruction
from fedbench.protocols import get_protocol

# checkpoint arrays that are the strategy's state (server optimiser, control variates), not
# the model's
STRATEGY_PREFIX = "strategy/"


class Diverged(RuntimeError):
    def __init__(self, server_round: int) -> None:
        super().__init__(f"non-finite loss or weights at round {server_round}")
        self.server_round = server_round


class ReachedTarget(Exception):  # an outcome, not an error
    """The run reached ``federation.stop_at_target``'s accuracy: it ends here, complete."""

    def __init__(self, server_round: int) -> None:
        super().__init__(f"target accuracy reached at round {server_round}")
        self.server_round = server_round


def failure(log: list[RoundLog]) -> str | None:
    """Why a run learned nothing it can be credited with, or None.

    A run *failed* when no round applied an update (every reply of every round failed, or
    was a dropped straggler: the model is still the initial one), or when more than half of
    all client calls over the run failed (each sampled client of each round is one call),
    so that what it learned comes from a minority of its clients. Its numbers are not a
    result: aggregation counts it with the diverged runs and never averages it.
    """
    calls = sum(entry.sampled for entry in log)
    failed = sum(entry.failed for entry in log)
    applied = sum(entry.sampled - entry.failed - entry.dropped > 0 for entry in log)
    if log and not applied:
        dropped = sum(entry.dropped for entry in log)
        return (f"no update was applied in any of its {len(log)} round(s): {failed} of "
                f"{calls} client calls failed and {dropped} updates were dropped as "
                "stragglers, so the model is still the initial one")
    if failed * 2 > calls:
        return (f"{failed} of {calls} client calls failed (more than half of all calls over "
                "the run)")
    return None


def make_strategy(cfg: RunConfig, fail_prob: float = 0.0):
    protocol = get_protocol(cfg.protocol)
    template = TrainInstruction(
        data_root=cfg.data.root,
        protocol=cfg.protocol,
        num_clients=cfg.federation.num_clients,
        seed=cfg.seed,
        partition_id=-1,
        model=cfg.training.model,
        epochs=cfg.training.local_epochs,
        straggler=False,
        drop_straggler=False,
        lr=cfg.training.lr,
        weight_decay=cfg.training.weight_decay,
        momentum=cfg.training.momentum,
        partition=cfg.partition_label(),
        batch_size=cfg.training.batch_size,  # 0: full batch (B = ∞), as in the config
        proximal_mu=0.0,
        server_round=0,
        device=cfg.runtime.device,
        threads=cfg.runtime.threads,
    )
    return get_algorithm(cfg.algorithm).make_strategy(
        template,
        per_round=cfg.federation.clients_per_round,
        straggler_rate=cfg.stragglers,
        straggler_rule=protocol.straggler_rule,
        mu=cfg.mu,
        params=cfg.params,
        fail_prob=fail_prob,
    )


def serve(
    grid: Grid,
    cfg: RunConfig,
    out: Path,
    quiet: bool = False,
    fail_prob: float = 0.0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the cell's rounds over ``grid`` and write OUT/rounds.csv and OUT/run.json."""
    started = time.time()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    data = cached_federated(
        cfg.data.root, cfg.protocol, cfg.federation.num_clients, cfg.seed, cfg.runtime.device,
        cfg.partition_label(),
    )
    protocol = get_protocol(cfg.protocol)
    model = build_model(cfg.training.model, cfg.seed, protocol.input_dim).to(cfg.runtime.device)
    initial = ArrayRecord({k: v.detach().cpu() for k, v in model.state_dict().items()})
    strategy = make_strategy(cfg, fail_prob)
    show = None if quiet else Progress(cfg.federation.rounds)
    evals: dict[int, tuple[float, float, float]] = {}
    # training loss over every client's training data (federated evaluation only; else NaN)
    global_losses: dict[int, float] = {}
    clock = {"last": time.perf_counter(), "t0": time.perf_counter()}
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / checkpoint.FILENAME
    resumed = checkpoint.load(ckpt_path, cfg.digest(),
                              warn=lambda message: print(message, file=sys.stderr, flush=True))
    first_round = 1
    if resumed is not None:
        first_round = resumed.server_round + 1
        model_arrays = {k: v for k, v in resumed.arrays.items()
                        if not k.startswith(STRATEGY_PREFIX)}
        initial = ArrayRecord({k: torch.from_numpy(v) for k, v in model_arrays.items()})
        strategy.load_state_arrays({k[len(STRATEGY_PREFIX):]: v for k, v in resumed.arrays.items()
                                    if k.startswith(STRATEGY_PREFIX)})
        evals.update({int(r): tuple(v) for r, v in resumed.state["evals"].items()})
        global_losses.update(
            {int(r): float(v) for r, v in resumed.state.get("global_train_loss", {}).items()}
        )
        strategy.log.extend(RoundLog(**entry) for entry in resumed.state["log"])
        if show:
            print(f"resuming from the checkpoint of round {resumed.server_round}",
                  file=sys.stderr, flush=True)

    def save_checkpoint(server_round: int, arrays: ArrayRecord) -> None:
        every = cfg.runtime.checkpoint_every
        if every and server_round % every == 0 and server_round < cfg.federation.rounds:
            state = {"evals": {str(r): list(v) for r, v in evals.items()},
                     "global_train_loss": {str(r): v for r, v in global_losses.items()},
                     "log": [asdict(entry) for entry in strategy.log]}
            arr = {k: v.numpy() for k, v in arrays.to_torch_state_dict().items()}
            arr.update({STRATEGY_PREFIX + k: v for k, v in strategy.state_arrays().items()})
            checkpoint.save(
                ckpt_path, cfg.digest(), checkpoint.Checkpoint(server_round, arr, state)
            )

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        params = {k: v.to(cfg.runtime.device) for k, v in arrays.to_torch_state_dict().items()}
        loss, acc, global_loss = evaluate_global(cfg.training.model, model, params, data)
        now = time.perf_counter()
        evals[server_round] = (loss, acc, now - clock["last"])
        global_losses[server_round] = global_loss
        clock["last"] = now
        if show:
            show(server_round, acc, loss, now - clock["t0"])
        finite = math.isfinite(loss) and all(bool(torch.isfinite(p).all()) for p in params.values())
        if not finite:
            raise Diverged(server_round)
        if target is not None and server_round >= 1 and acc >= target:
            raise ReachedTarget(server_round)
        return MetricRecord({"test_loss": loss, "test_accuracy": acc})

    status, diverged_round, stopped_at = "ok", None, None
    target = cfg.target_accuracy()
    try:
        strategy.start(
            grid=grid,
            initial_arrays=initial,
            num_rounds=cfg.federation.rounds,
            timeout=3600.0,
            evaluate_fn=evaluate_fn,
            first_round=first_round,
            on_round_end=save_checkpoint,
        )
    except Diverged as exc:
        status, diverged_round = "diverged", exc.server_round
        if show:
            show.note(f"run diverged at round {exc.server_round}")
    except ReachedTarget as exc:
        stopped_at = exc.server_round
        if show:
            show.note(f"target accuracy {target:.2%} reached at round {stopped_at}: run ends")

    reason = failure(strategy.log) if status == "ok" else None
    if reason is not None:
        status = "failed"
        print(f"run failed: {reason}", file=sys.stderr, flush=True)
    logs = {entry.round: entry for entry in strategy.log}
    rows = []
    for rnd in sorted(evals):
        loss, acc, seconds = evals[rnd]
        entry = logs.get(rnd)
        row: dict[str, Any] = {
            "round": rnd,
            "test_loss": loss,
            "test_accuracy": acc,
            "global_train_loss": global_losses.get(rnd, float("nan")),
            "seconds": round(seconds, 6),
        }
        if entry is not None:
            row.update(
                sampled=entry.sampled,
                n_stragglers=entry.stragglers,
                dropped=entry.dropped,
                failed=entry.failed,
                examples=entry.examples,
                train_loss=entry.train_loss,
            )
        else:
            row.update(
                sampled=0, n_stragglers=0, dropped=0, failed=0, examples=0,
                train_loss=float("nan"),
            )
        rows.append(row)
    out.mkdir(parents=True, exist_ok=True)
    results.write_rounds(out / "rounds.csv", rows)
    last = rows[-1]
    summary = {
        "status": status,
        "diverged_round": diverged_round,
        # status failed: why (``failure``); aggregation never averages such a run
        "failure_reason": reason,
        # federation.stop_at_target: the round whose accuracy reached the target (the last)
        "stopped_at_target": stopped_at,
        "config": cfg.model_dump(),
        "config_digest": cfg.digest(),
        "final": {
            "round": last["round"],
            "test_accuracy": last["test_accuracy"],
            "test_loss": last["test_loss"],
        },
        "rounds_completed": last["round"],
        "resumed_from_round": resumed.server_round if resumed else None,
        "wall_seconds": round(time.time() - started, 3),
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": results.versions(),
        "git_commit": results.git_commit(),
        **(extra or {}),
    }
    results.write_json(out / "run.json", summary)
    checkpoint.remove(ckpt_path)  # the run is complete: nothing to resume
    return summary


def make_server_app(
    cfg: RunConfig,
    out: Path,
    quiet: bool = False,
    fail_prob: float = 0.0,
    extra: dict[str, Any] | None = None,
) -> ServerApp:
    """A ServerApp bound to one resolved config (the engines cannot pass ours through)."""
    server = ServerApp()

    @server.main()
    def _main(grid: Grid, context: Context) -> None:
        serve(grid, cfg, out, quiet=quiet, fail_prob=fail_prob, extra=extra)

    return server


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Entry point for ``flwr run``: the cell comes from pyproject's [tool.flwr.app.config],
    in fedbench's keys or in those of Flower's FedProx baseline (``flower_config``)."""
    cell = flower_config.resolve(context.run_config)
    for note in cell.notes:
        print(f"run config: {note}", file=sys.stderr, flush=True)
    serve(grid, cell.config, cell.out, extra={"backend": "flwr run"})

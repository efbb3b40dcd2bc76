"""McMahan et al.'s metric: communication rounds to reach a target test accuracy.

For the FedAvg MNIST baseline (PROTOCOLS.md §3) the published number per
(model, partition, E, B) setting is the first round whose test accuracy is at
or above the target (97 % for the 2NN, 99 % for the CNN). Here, per run, the
first round r ≥ 1 with ``test_accuracy >= target`` (None when never reached);
per setting, the median over seeds (runs that never reach it count as
"not reached"; the median is reported only when at least half the seeds reach
the target), set beside McMahan's Table 2 and Flower's replication.

Runs may stop at the target (``federation.stop_at_target``): such a run's
rounds.csv ends at the round that reached it and its run.json says
``"stopped_at_target": r``; it counts as reached at r. Older runs without the
key did not stop early.

Runs are read from their run directories (rounds.csv, run.json) with the same
readers as ``fedbench.aggregate``, but keyed by setting: a grid with a settings
axis has several runs per (protocol, algorithm, mu, stragglers, seed).

targets.csv, one row per (protocol, model, E, B, lr):

- ``rounds``: the configured number of rounds R (the cap when runs stop at the target);
- ``n_seeds``, ``n_reached``, ``n_stopped`` (ended early at the target), ``n_diverged``;
- ``rounds_to_target_median`` (blank: not reached by at least half the seeds) and
  ``rounds_to_target_per_seed`` (seed order, ``-`` = not reached, ``†`` = diverged);
- ``best_acc_mean``: per seed the best test accuracy over the rounds it ran (rounds ≥ 1),
  mean over seeds; for a run that stopped at the target that is its accuracy there;
- ``acc_at_cap_mean``: test accuracy at round R, mean over seeds; blank unless every seed
  ran to round R (none stopped at the target, none diverged), so it is never a mean of
  accuracies taken at different rounds;
- ``published_mcmahan`` (Table 2, CNN rows only) and ``published_flower`` (CNN non-IID).

The report (``report.pdf``) is built with ``fedbench.report``'s document machinery
and provenance (``fedbench.aggregate.provenance``, also written as provenance.json).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fedbench.errors import UsageError
from fedbench.published import (
    FLOWER_FEDAVG_ROUNDS,
    FLOWER_FEDAVG_SOURCE,
    MCMAHAN_SOURCE,
    MCMAHAN_TARGETS,
    PROTOCOL_TITLES,
    published_rounds,
)
from fedbench.results import atomic_write_text, write_json

TARGETS_FILE = "targets.csv"
CURVES_FILE = "targets_rounds.csv"
PROVENANCE_FILE = "provenance.json"
REPORT_FILE = "report.pdf"
TARGET_COLUMNS = (
    "protocol", "model", "local_epochs", "batch_size", "lr", "target", "rounds", "n_seeds",
    "n_reached", "n_stopped", "n_diverged", "rounds_to_target_median",
    "rounds_to_target_per_seed", "best_acc_mean", "acc_at_cap_mean",
    "published_mcmahan", "published_flower",
)
SETTING_KEYS = ("protocol", "model", "local_epochs", "batch_size", "lr")
# The sections of report.pdf (literal PDF text, in this order).
SECTIONS = ("Provenance", "Setup", "Rounds to target accuracy", "Accuracy per round",
            "Known differences")
PANELS_PER_PAGE = 4
DIVERGED_MARK = "†"


def rounds_to_target(rounds: Sequence[int], accuracy: Sequence[float],
                     target: float) -> int | None:
    """The first round ≥ 1 whose accuracy is at or above ``target``; None if never."""
    for rnd, acc in sorted(zip(rounds, accuracy, strict=True)):
        if rnd >= 1 and acc == acc and acc >= target:
            return int(rnd)
    return None


def median_rounds(values: Sequence[int | None]) -> float | None:
    """Median over seeds, runs that never reached the target counted as +∞; None when the
    median itself is "not reached" (fewer than half of the seeds reached the target)."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else float(v) for v in values)
    n = len(ordered)
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return None if math.isinf(mid) else mid


def _batch(value: Any) -> int | None:
    return None if value in (None, 0) else int(value)


def batch_text(batch: int | None) -> str:
    return "∞" if batch is None else str(batch)


def _partition(protocol: str) -> str:
    return {"mcmahan-iid": "IID", "mcmahan-noniid": "non-IID"}.get(protocol, protocol)


# --------------------------------------------------------------------------- loading


@dataclass
class TargetRuns:
    """What the run directories hold: per run, per round, and provenance records."""

    runs: pd.DataFrame  # one row per run: setting, seed, status, rounds to target, accuracies
    curves: pd.DataFrame  # tidy: round, test_accuracy, setting, seed
    records: pd.DataFrame  # fedbench.aggregate's per-run records (for provenance)


def _stopped_at(payload: dict[str, Any], path: Path) -> int | None:
    value = payload.get("stopped_at_target")  # absent in runs made before the option
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{path}: stopped_at_target must be a round >= 1 or null "
                         f"(got {value!r})")
    return value


def read_target_runs(run_dirs: Iterable[str | Path]) -> TargetRuns:
    """Read every run directory (the readers of ``fedbench.aggregate``, same checks)."""
    from fedbench.aggregate import _read_rounds_csv, _read_run_json, _run_record

    runs, curves, records = [], [], []
    seen: dict[tuple[Any, ...], str] = {}
    for entry in run_dirs:
        run_dir = Path(entry)
        if not run_dir.is_dir():
            raise UsageError(f"{run_dir}: run directory not found")
        json_path, csv_path = run_dir / "run.json", run_dir / "rounds.csv"
        payload = _read_run_json(json_path)
        record = _run_record(run_dir, payload, json_path)
        frame = _read_rounds_csv(csv_path)
        cfg = payload["config"]
        model = record["model"]
        key = {"protocol": record["protocol"], "model": model,
               "local_epochs": record["local_epochs"],
               "batch_size": _batch(record["batch_size"]), "lr": record["lr"]}
        seed = record["seed"]
        ident = (*key.values(), record["algorithm"], record["mu"], record["stragglers"], seed)
        if ident in seen:
            raise UsageError(f"{run_dir}: same setting and seed as {seen[ident]}")
        seen[ident] = str(run_dir)
        cap = record["rounds"]
        last = int(frame["round"].iloc[-1])
        stopped = _stopped_at(payload, json_path)
        if stopped is not None and last != stopped:
            raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                             f"stopped at the target at round {stopped}")
        if record["status"] == "ok" and stopped is None and last != cap:
            raise UsageError(f"{csv_path}: ends at round {last} but {json_path} says the run "
                             f"finished ok with {cap} rounds (incomplete file?)")
        target = MCMAHAN_TARGETS.get(model, math.nan)
        acc = frame["test_accuracy"]
        trained = acc[frame["round"] >= 1]
        at_cap = acc[frame["round"] == cap]
        ran_to_cap = record["status"] == "ok" and stopped is None and len(at_cap) == 1
        reached = stopped if stopped is not None else rounds_to_target(
            frame["round"].tolist(), acc.tolist(), target)
        runs.append({**key, "seed": seed, "status": record["status"], "rounds": cap,
                     "target": target, "rounds_to_target": reached,
                     "stopped_at_target": stopped, "last_round": last,
                     "stop_at_target": bool(cfg["federation"].get("stop_at_target", False)),
                     "best_acc": float(trained.max()) if trained.notna().any() else math.nan,
                     "acc_at_cap": float(at_cap.iloc[0]) if ran_to_cap else math.nan})
        curves.append(frame[["round", "test_accuracy"]].assign(**key, seed=seed))
        records.append(record)
    if not runs:
        raise UsageError("no run directories given")
    return TargetRuns(pd.DataFrame(runs), pd.concat(curves, ignore_index=True),
                      pd.DataFrame.from_records(records))


def load_target_runs(run_dirs: Iterable[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per run with its setting and rounds-to-target, tidy per-round accuracy)."""
    data = read_target_runs(run_dirs)
    return data.runs, data.curves


# --------------------------------------------------------------------------- the table


def _mean_if_all(values: pd.Series) -> float:
    """Mean over seeds, NaN unless every seed has a value."""
    return math.nan if values.isna().any() or values.empty else float(values.mean())


def targets_table(runs_df: pd.DataFrame) -> pd.DataFrame:
    """One row per (protocol, model, E, B, lr): rounds to target over seeds, beside the
    published values (columns: TARGET_COLUMNS, see the module docstring)."""
    rows = []
    frame = runs_df.assign(batch_size=runs_df["batch_size"].astype(object))
    for key, group in frame.groupby(list(SETTING_KEYS), sort=True, dropna=False):
        protocol, model, epochs, batch, lr = key
        batch = None if batch is None or batch != batch else int(batch)
        group = group.sort_values("seed")
        per_seed = [None if v is None or v != v else int(v) for v in group["rounds_to_target"]]
        diverged = (group["status"] == "diverged").tolist()
        stopped = group.get("stopped_at_target", pd.Series([None] * len(group)))
        rows.append({
            "protocol": protocol, "model": model, "local_epochs": int(epochs),
            "batch_size": batch_text(batch), "lr": float(lr),
            "target": float(group["target"].iloc[0]), "rounds": int(group["rounds"].max()),
            "n_seeds": len(group), "n_reached": sum(v is not None for v in per_seed),
            "n_stopped": int(stopped.notna().sum()), "n_diverged": sum(diverged),
            "rounds_to_target_median": median_rounds(per_seed),
            "rounds_to_target_per_seed": " ".join(
                ("-" if v is None else str(v)) + (DIVERGED_MARK if d else "")
                for v, d in zip(per_seed, diverged, strict=True)),
            "best_acc_mean": float(group["best_acc"].mean()),
            "acc_at_cap_mean": _mean_if_all(group["acc_at_cap"]),
            "published_mcmahan": published_rounds(model, protocol, int(epochs), batch),
            "published_flower": published_rounds(model, protocol, int(epochs), batch,
                                                 FLOWER_FEDAVG_ROUNDS),
        })
    table = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    for column in ("published_mcmahan", "published_flower"):  # whole rounds, blank if none
        table[column] = table[column].astype("Int64")
    return table


def table_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The report's table (header, rows of strings); the legend is ``TABLE_LEGEND``."""
    header = ["Partition", "Model", "E", "B", "lr", "Reached", "Rounds (median)", "Per seed",
              "McMahan T2", "Flower", "Best acc.", "Acc. at R"]

    def num(v: Any) -> str:
        return "—" if pd.isna(v) else f"{int(v)}"

    def acc(v: Any) -> str:
        return "—" if pd.isna(v) else f"{v:.4f}"

    rows = []
    for r in table.itertuples(index=False):
        median = r.rounds_to_target_median
        rows.append([
            _partition(r.protocol), r.model.upper(), str(r.local_epochs), str(r.batch_size),
            f"{r.lr:g}", f"{r.n_reached}/{r.n_seeds}",
            f"> {r.rounds}" if pd.isna(median) else f"{median:g}",
            r.rounds_to_target_per_seed, num(r.published_mcmahan), num(r.published_flower),
            acc(r.best_acc_mean), acc(r.acc_at_cap_mean),
        ])
    return header, rows


TABLE_LEGEND = (
    "Reached: seeds that reached the target within R rounds. Rounds (median): per seed the "
    "first round r ≥ 1 whose test accuracy (10,000 MNIST test images) is at or above the "
    "target, median over seeds; “> R” when fewer than half of the seeds reach it. Per seed: in "
    f"seed order, “-” not reached, “{DIVERGED_MARK}” diverged. McMahan T2: {MCMAHAN_SOURCE}; "
    "CNN rows only (the 2NN rows are not transcribed). Flower: first round at ≥ 99 % in "
    f"{FLOWER_FEDAVG_SOURCE}. Best acc.: per seed the best test accuracy over the rounds it "
    "ran, mean over seeds. Acc. at R: test accuracy at round R, mean over seeds; “—” when a "
    "seed did not run to R (it stopped at the target or diverged)."
)


# --------------------------------------------------------------------------- figures


def _panels(curves: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted({(p, m) for p, m in curves[["protocol", "model"]].itertuples(index=False)})


def _setting_colors(curves: pd.DataFrame) -> dict[tuple[int, Any], Any]:
    """One colour per (E, B), the same in every panel."""
    from matplotlib import colormaps

    def order(eb: tuple[int, Any]) -> tuple[int, float]:
        e, b = eb
        return (e, math.inf if b is None or b != b else float(b))

    keys = sorted({(int(e), None if b is None or b != b else int(b))
                   for e, b in curves[["local_epochs", "batch_size"]].itertuples(index=False)},
                  key=order)
    cmap = colormaps["tab10"]
    return {k: cmap(i % 10) for i, k in enumerate(keys)}


def _y_floor(mine: pd.DataFrame, target: float) -> float:
    """Bottom of a panel's accuracy axis: at most 10 points under the target, low enough
    that every setting's best accuracy shows."""
    trained = mine[mine["round"] >= 1]
    best = trained.groupby(["local_epochs", "batch_size", "lr", "seed"], dropna=False)[
        "test_accuracy"].max()
    lowest_best = float(best.min()) if len(best) and best.notna().any() else 0.0
    floor = min(target - 0.1 if math.isfinite(target) else 0.0, lowest_best - 0.02)
    return max(0.0, math.floor(floor * 100) / 100)


def draw_target_curves(fig, curves: pd.DataFrame, runs_df: pd.DataFrame | None = None,
                       panels: Sequence[tuple[str, str]] | None = None) -> None:
    """Test accuracy per round, one panel per (partition, model), one colour per (E, B).

    Each seed is a thin line; the thick line is the mean over seeds, drawn only over the
    rounds every seed ran (a run that stopped at the target or diverged ends its line, so
    the mean never becomes the mean of the seeds left). A dot marks where a run stopped at
    the target; the dotted line is the target. Long runs (more than 100 rounds) get a
    logarithmic round axis.
    """
    panels = list(panels) if panels is not None else _panels(curves)
    colors = _setting_colors(curves)
    stopped = {}
    if runs_df is not None and "stopped_at_target" in runs_df:
        for r in runs_df.itertuples(index=False):
            if r.stopped_at_target is not None and r.stopped_at_target == r.stopped_at_target:
                batch = None if r.batch_size is None or r.batch_size != r.batch_size else int(
                    r.batch_size)
                stopped[(r.protocol, r.model, int(r.local_epochs), batch, float(r.lr),
                         int(r.seed))] = int(r.stopped_at_target)
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    for ax, (protocol, model) in zip(axes, panels, strict=False):
        mine = curves[(curves["protocol"] == protocol) & (curves["model"] == model)]
        target = MCMAHAN_TARGETS.get(model, math.nan)
        log_x = int(mine["round"].max()) > 100
        shown = mine[mine["round"] >= 1] if log_x else mine
        any_stop = False
        for (e, b, lr), line in shown.groupby(["local_epochs", "batch_size", "lr"],
                                               dropna=False, sort=True):
            batch = None if b is None or b != b else int(b)
            color = colors[(int(e), batch)]
            wide = line.pivot(index="round", columns="seed",
                              values="test_accuracy").sort_index()
            n = wide.shape[1]
            if n > 1:
                for seed in wide.columns:
                    s = wide[seed].dropna()
                    ax.plot(s.index, s.to_numpy(), color=color, linewidth=0.5, alpha=0.35)
            common = wide.dropna(how="any")  # rounds every seed ran
            label = f"E={int(e)} B={batch_text(batch)} lr={float(lr):g}"
            ax.plot(common.index, common.mean(axis=1).to_numpy(), color=color, linewidth=1.3,
                    label=label)
            for seed in wide.columns:
                r = stopped.get((protocol, model, int(e), batch, float(lr), int(seed)))
                if r is not None and r in wide.index:
                    any_stop = True
                    ax.plot([r], [wide.at[r, seed]], marker="o", markersize=3.2, color=color,
                            linestyle="none")
        if math.isfinite(target):
            ax.axhline(target, color="#333333", linewidth=0.8, linestyle=":",
                       label=f"target {target:.0%}")
            ax.set_ylim(_y_floor(mine, target), 1.0)
        if any_stop:
            ax.plot([], [], marker="o", markersize=3.2, color="#555555", linestyle="none",
                    label="run stopped at the target")
        if log_x:
            ax.set_xscale("log")
            ax.set_xlim(left=1)
        ax.set_title(f"{model.upper()}, {_partition(protocol)} ({protocol})", fontsize=8.5)
        ax.set_xlabel("round" + (" (log scale)" if log_x else ""))
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _curves_figure(curves: pd.DataFrame, runs_df: pd.DataFrame | None = None):
    from matplotlib.figure import Figure

    from fedbench.plots import style

    n = len(_panels(curves))
    with style():
        fig = Figure(figsize=(7.5, 0.6 + 2.6 * max(1, n)), layout="constrained")
        draw_target_curves(fig, curves, runs_df)
    return fig


# --------------------------------------------------------------------------- the report


def _settings_text(table: pd.DataFrame) -> str:
    """Per model: the E, B and lr values and how many (E, B, lr) settings (table rows list
    them one by one)."""
    def braces(values: Iterable[Any]) -> str:
        return "{" + ", ".join(str(v) for v in values) + "}"

    parts = []
    for model, mine in table.groupby("model", sort=True):
        n = len(mine.drop_duplicates(["local_epochs", "batch_size", "lr"]))
        epochs = sorted({int(e) for e in mine["local_epochs"]})
        batches = sorted({str(b) for b in mine["batch_size"]},
                         key=lambda b: math.inf if b == "∞" else int(b))
        lrs = sorted({float(v) for v in mine["lr"]})
        parts.append(f"{model.upper()}: E ∈ {braces(epochs)}, B ∈ {braces(batches)}, "
                     f"lr ∈ {braces(f'{v:g}' for v in lrs)} ({n} setting{'s' * (n != 1)})")
    return "; ".join(parts)


def _seeds_text(runs_df: pd.DataFrame) -> str:
    per_setting = runs_df.groupby(list(SETTING_KEYS), dropna=False)["seed"].nunique()
    lo, hi = int(per_setting.min()), int(per_setting.max())
    return f"{hi} per setting" if lo == hi else f"{lo} to {hi} per setting"


def _stop_text(runs_df: pd.DataFrame) -> str:
    configured = int(runs_df["stop_at_target"].sum())
    stopped = int(runs_df["stopped_at_target"].notna().sum())
    n = len(runs_df)
    if configured == 0:
        return "no: every run ran its R rounds (federation.stop_at_target off)"
    which = "yes" if configured == n else f"in {configured} of {n} runs"
    return (f"{which} (federation.stop_at_target): a run ends at the first round at or above "
            f"its target; {stopped} of {n} runs stopped there")


def _setup_rows(prov: dict[str, Any], runs_df: pd.DataFrame,
                table: pd.DataFrame) -> list[list[str]]:
    from fedbench.report import _join

    setup = prov.get("setup", {})
    protocols = sorted(runs_df["protocol"].unique())
    clients = setup.get("num_clients", [])
    per_round = setup.get("clients_per_round", [])
    fraction = (f" (C = {per_round[0] / clients[0]:g})"
                if len(clients) == 1 and len(per_round) == 1 else "")
    models = sorted(runs_df["model"].unique())
    seeds = sorted(int(s) for s in runs_df["seed"].unique())
    caps = sorted(int(r) for r in runs_df["rounds"].unique())
    n_settings = len(table)
    n_expected = n_settings * len(seeds)
    return [
        ["protocols", _join([f"{p} ({PROTOCOL_TITLES[p]})" if p in PROTOCOL_TITLES else p
                             for p in protocols])],
        ["clients", _join(clients)],
        ["clients per round", _join(per_round) + fraction],
        ["models (target)", _join([f"{m.upper()} ({MCMAHAN_TARGETS[m]:.0%})"
                                   if m in MCMAHAN_TARGETS else f"{m} (no target)"
                                   for m in models])],
        ["settings (model, E, B, lr)", _settings_text(table)],
        ["weight decay", _join([f"{v:g}" for v in setup.get("weight_decay", [])])],
        ["seeds", f"{_join(seeds)} ({len(seeds)})"],
        ["rounds cap (R)", _join(caps)],
        ["stop at target", _stop_text(runs_df)],
        ["algorithm", "FedAvg (plain SGD on the clients, no stragglers), "
                      "global model evaluated centrally after every round"],
        ["grid", f"{n_settings} (partition, setting) rows × {len(seeds)} seed(s) = "
                 f"{n_expected} runs ({len(runs_df)} found)"],
    ]


def config_notes(runs_df: pd.DataFrame, config: Any | None) -> list[str]:
    """Runs the config's grid has and the run directories do not (or the other way)."""
    if config is None or config.grid is None or not config.settings():
        return []
    want = set()
    for protocol in config.protocols():
        for training in config.settings().values():
            for seed in config.grid.seeds:
                want.add((protocol, training.model, int(training.local_epochs),
                          training.batch_size, float(training.lr), int(seed)))
    have = {(r.protocol, r.model, int(r.local_epochs),
             None if r.batch_size is None or r.batch_size != r.batch_size else int(r.batch_size),
             float(r.lr), int(r.seed)) for r in runs_df.itertuples(index=False)}
    notes = []
    missing = sorted(want - have, key=str)
    if missing:
        shown = "; ".join(f"{_partition(p)} {m.upper()} E={e} B={batch_text(b)} lr {lr:g} "
                          f"seed {s}" for p, m, e, b, lr, s in missing[:6])
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        notes.append(f"{len(missing)} of the config's {len(want)} grid runs are missing from "
                     f"this report: {shown}{more}.")
    extra = have - want
    if extra:
        notes.append(f"{len(extra)} runs are not in the config's grid.")
    if config.federation.rounds not in set(runs_df["rounds"]):
        notes.append(f"The config says rounds = {config.federation.rounds}, the runs used "
                     f"{', '.join(str(r) for r in sorted(set(runs_df['rounds'])))}.")
    return notes


def known_differences(runs_df: pd.DataFrame, table: pd.DataFrame,
                      prov: dict[str, Any]) -> list[str]:
    items = []
    lrs = sorted({float(v) for v in runs_df["lr"]})
    items.append(
        "Learning rates. McMahan et al. tuned the learning rate per setting on a grid and "
        "report the best run; fedbench runs one fixed lr per setting from the config "
        f"({', '.join(f'{v:g}' for v in lrs)}), not tuned: Table 2 is the best of a grid, so "
        "fedbench's rounds to target are expected at or above it.")
    setup = prov.get("setup", {})
    clients, per_round = setup.get("num_clients", []), setup.get("clients_per_round", [])
    c_text = (f"C = {per_round[0] / clients[0]:g}" if len(clients) == 1 and len(per_round) == 1
              else "the config's C")
    items.append(
        f"Client fraction. Table 2 is for C = 0.1 (10 of 100 clients per round); fedbench uses "
        f"{c_text}. Flower's replication trains all 100 clients every round (C = 1), so its "
        "rounds are not the same experiment as Table 2's or these: a reference for order, not a "
        "target.")
    stopped = int(runs_df["stopped_at_target"].notna().sum())
    if stopped:
        items.append(
            f"Stopped at the target. {stopped} of {len(runs_df)} runs ended at the round that "
            "reached the target (federation.stop_at_target), as only rounds to target is "
            "published: their curves end there (marked with a dot), their best accuracy is the "
            "accuracy at that round, not what a full run would reach, and “Acc. at R” is blank "
            "for their settings.")
    short = table[table["published_mcmahan"].notna()
                  & (table["published_mcmahan"].astype("float") > table["rounds"])]
    if len(short):
        items.append(
            f"Rounds cap. {len(short)} setting(s) ran fewer rounds (R = "
            f"{', '.join(str(r) for r in sorted(set(short['rounds'])))}) than Table 2 needs to "
            "reach the target there: “not reached” is expected and the row shows the pipeline "
            "and the curve's shape, not the published number.")
    if (table["model"] == "2nn").any():
        items.append("2NN rows. PROTOCOLS.md transcribes only the CNN rows of Table 2, so the "
                     "2NN rows have no published value here.")
    items.append(
        "Seeds. The paper gives one number per setting; fedbench runs every setting with each "
        "seed (its own random draws) and reports the median with every seed's value, so the "
        "spread over seeds is visible.")
    n_div = int((runs_df["status"] == "diverged").sum())
    if n_div:
        items.append(f"Diverged runs. {n_div} run(s) stopped on a non-finite loss or weights "
                     f"(“{DIVERGED_MARK}”); they count as reached only if they reached the "
                     "target before diverging.")
    return items


def write_targets_report(path: str | Path, data: TargetRuns, table: pd.DataFrame,
                         prov: dict[str, Any], name: str, config: Any | None = None,
                         config_path: str | None = None) -> Path:
    """report.pdf of a settings grid: setup, the rounds-to-target table beside Table 2,
    the accuracy curves, known differences and provenance (``fedbench.report``'s layout)."""
    from fedbench.report import (
        MUTED,
        _columns,
        _join,
        _provenance_rows,
        provenance_and_setup,
        report_document,
    )

    runs_df, curves = data.runs, data.curves
    protocols = sorted(runs_df["protocol"].unique())
    subject = _join([PROTOCOL_TITLES.get(p, p) for p in protocols])
    stopped = int(runs_df["stopped_at_target"].notna().sum())
    with report_document(path, name, prov, subject) as doc:
        doc.new_page()
        doc.title("fedbench report", f"{name} — FedAvg, rounds to target accuracy",
                  f"McMahan et al. 2017 on MNIST with Flower · aggregated "
                  f"{str(prov.get('created_at', '?'))[:10]}")
        doc.paragraph(
            "The published metric of the FedAvg MNIST baseline: the number of communication "
            "rounds until the global model first reaches the target test accuracy (97 % for the "
            "2NN, 99 % for the CNN), per partition, model, local epochs E and local batch B, "
            "set beside McMahan et al.'s Table 2 and Flower's replication, with the accuracy "
            "per round behind each number.", size=9.5)

        provenance_and_setup(doc, _provenance_rows(prov, config, config_path),
                             _setup_rows(prov, runs_df, table), config_notes(runs_df, config),
                             protocols)

        header, rows = table_rows(table)
        doc.new_page()
        doc.heading("Rounds to target accuracy", keep_with=min(1.5 + 0.2 * len(rows), 8.0))
        doc.paragraph(
            "Rounds to reach the target test accuracy per setting, beside the published values "
            "(lower is better)."
            + (f" {stopped} of {len(runs_df)} runs stopped at the target; the others ran R "
               "rounds." if stopped else " Every run ran its R rounds."), size=8.5)
        align = ["left", "left", "right", "right", "right", "right", "right", "right",
                 "right", "right", "right", "right"]
        doc.table(_columns(header, rows, 7.5, align, wrap_titles=True), rows, size=7.5)
        doc.paragraph(TABLE_LEGEND, size=7.5, color=MUTED)

        panels = _panels(curves)
        for start in range(0, len(panels), PANELS_PER_PAGE):
            chunk = panels[start:start + PANELS_PER_PAGE]
            doc.new_page()
            doc.heading("Accuracy per round" + (" (continued)" if start else ""), keep_with=5.0)
            if not start:
                doc.paragraph(
                    "Test accuracy of the global model per round, one panel per partition and "
                    f"model, one colour per (E, B). Thin lines are single seeds; the thick line "
                    f"is the mean over the seeds ({_seeds_text(runs_df)}), drawn only over the "
                    "rounds every seed ran, so it "
                    "ends where the first seed's run ended. The dotted line is the target"
                    + ("; a dot marks a run that stopped there" if stopped else "")
                    + ". Runs longer than 100 rounds are drawn on a logarithmic round axis. "
                    "(figures/target_curves.pdf)", size=8.5)
            height = min(doc.room(), 0.6 + 2.3 * len(chunk))
            doc.plot(lambda fig, anchor, c=chunk: draw_target_curves(fig, curves, runs_df, c),
                     height=height, legend_h=0.1)

        doc.heading("Known differences", keep_with=1.0)
        for item in known_differences(runs_df, table, prov):
            doc.paragraph(item, bullet=True, size=8.5)
    return Path(path)


def write_targets(run_dirs: Iterable[str | Path], out_dir: str | Path, name: str,
                  config: Any | None = None, config_path: str | None = None) -> list[Path]:
    """targets.csv, targets_rounds.csv, provenance.json, figures/target_curves.{png,pdf}
    and report.pdf under ``out_dir``."""
    from fedbench.aggregate import provenance
    from fedbench.plots import save_atomic

    data = read_target_runs(run_dirs)
    table = targets_table(data.runs)
    prov = provenance(data.records, name)
    out = Path(out_dir)
    paths = [out / TARGETS_FILE, out / CURVES_FILE, out / PROVENANCE_FILE]
    atomic_write_text(paths[0], table.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(paths[1], data.curves.to_csv(index=False, lineterminator="\n"))
    write_json(paths[2], prov)
    fig = _curves_figure(data.curves, data.runs)
    for fmt in ("png", "pdf"):
        path = out / "figures" / f"target_curves.{fmt}"
        save_atomic(fig, path)
        paths.append(path)
    paths.append(write_targets_report(out / REPORT_FILE, data, table, prov, name, config,
                                      config_path))
    return paths

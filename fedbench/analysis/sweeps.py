"""Sweeps: a grid that runs one algorithm at several values of one of its settings (the
proximal weight μ, or one of its own ``params`` such as the server learning rate) at a
straggler rate, the others fixed; and, per swept line, the best value.

A cell's *settings* are its μ (for an algorithm with a proximal term) and every
hyperparameter of its algorithm, the defaults filled in, so ``{algorithm: fedadam}`` and
``{algorithm: fedadam, params: {server_lr: 0.01}}`` are the same setting. A setting is swept
at a straggler rate when SWEEP_MIN or more of its values ran with the other settings equal.

"Best" is the highest mean last-10 accuracy over the seeds that did not diverge; the value
chosen for a grid of straggler rates (``best_values``, the tuning choice of
configs/algorithms-tuning.yaml) is the one whose last-10 accuracy averaged over the straggler
rates (and seeds) is highest, among the values that ran at every rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fedbench.algorithms import params_from_text, registry, sort_key

SWEEP_MIN = 3
MU = "mu"  # the proximal weight's name as a swept setting


@dataclass(frozen=True)
class Sweep:
    """One swept line: ``param`` of ``algorithm`` at ``stragglers``, the other settings
    ``fixed`` ((name, value) pairs, sorted)."""

    algorithm: str
    param: str
    stragglers: float
    fixed: tuple[tuple[str, float], ...] = ()


def settings(algorithm: str, mu: float, params: Mapping[str, float] | str | None) -> dict[str,
                                                                                          float]:
    """A cell's settings: μ (proximal algorithms only) and every hyperparameter, defaults
    filled in; an algorithm no longer registered has just the params it ran with."""
    given = params_from_text(params) if isinstance(params, str) or params is None else dict(
        params)
    found = registry().get(str(algorithm))
    out: dict[str, float] = {}
    if found is None or found.uses_mu:
        out[MU] = float(mu)
    if found is not None:
        out.update({k: float(f.default) for k, f in found.hyperparameters.model_fields.items()})
    out.update({k: float(v) for k, v in given.items()})
    return out


def _cell(cell: tuple[Any, ...]) -> tuple[str, float, float, Any]:
    """(algorithm, mu, stragglers[, params]) with params {} when absent."""
    algorithm, mu, stragglers = cell[:3]
    return str(algorithm), float(mu), float(stragglers), cell[3] if len(cell) > 3 else {}


def find_sweeps(cells: Iterable[tuple[Any, ...]]) -> list[Sweep]:
    """The sweeps of a grid, from its cells (algorithm, μ, straggler rate[, params]): every
    setting of an algorithm with SWEEP_MIN or more values at a straggler rate, the others
    equal. Sorted by algorithm (legend order), setting, straggler rate."""
    values: dict[Sweep, set[float]] = {}
    for cell in cells:
        algorithm, mu, stragglers, params = _cell(cell)
        if registry().get(algorithm) is not None and registry()[algorithm].baseline:
            continue  # the reference of every sweep, itself not swept
        own = settings(algorithm, mu, params)
        for name, value in own.items():
            fixed = tuple(sorted((k, v) for k, v in own.items() if k != name))
            values.setdefault(Sweep(algorithm, name, stragglers, fixed), set()).add(value)
    found = [s for s, vs in values.items() if len(vs) >= SWEEP_MIN]
    return sorted(found, key=lambda s: (sort_key(s.algorithm, 0.0), s.param, s.stragglers,
                                        s.fixed))


def swept_params(sweeps: Iterable[Sweep]) -> list[str]:
    """The settings swept, μ first, then by name."""
    return sorted({s.param for s in sweeps}, key=lambda p: (p != MU, p))


def sweep_cells(summary: pd.DataFrame, sweep: Sweep) -> pd.DataFrame:
    """The summary rows of a swept line, with its value as column ``value``, by protocol and
    value."""
    mine = summary[(summary["algorithm"] == sweep.algorithm)
                   & (summary["stragglers"] == sweep.stragglers)]
    keep, values = [], []
    for i, row in zip(mine.index, mine.itertuples(index=False), strict=True):
        own = settings(row.algorithm, row.mu, getattr(row, "params", ""))
        if tuple(sorted((k, v) for k, v in own.items() if k != sweep.param)) == sweep.fixed:
            keep.append(i)
            values.append(own[sweep.param])
    out = mine.loc[keep].assign(value=values)
    return out.sort_values(["protocol", "value"]).reset_index(drop=True)


def best_values(summary: pd.DataFrame, sweeps: Iterable[Sweep]) -> pd.DataFrame:
    """Per swept line (protocol, algorithm, setting, fixed settings): the best value at each
    straggler rate, and the value chosen over all the rates it was swept at.

    Columns: protocol, algorithm, param, fixed, stragglers (NaN on the row of the choice over
    all rates), value, last10_acc (the mean over seeds; also over the rates on the choice row),
    n_rates (1, or the rates the choice averages over).
    """
    cells = []
    for sweep in sweeps:
        line = sweep_cells(summary, sweep)
        cells.append(line[line["last10_acc_mean"].notna()].assign(
            param=sweep.param, fixed=[sweep.fixed] * int(line["last10_acc_mean"].notna().sum())))
    columns = ["protocol", "algorithm", "param", "fixed", "stragglers", "value", "last10_acc",
               "n_rates"]
    if not cells:
        return pd.DataFrame([], columns=columns)
    every = pd.concat(cells, ignore_index=True)
    rows: list[dict[str, Any]] = []
    for (protocol, algorithm, param, fixed), line in every.groupby(
            ["protocol", "algorithm", "param", "fixed"], sort=False):
        base = {"protocol": protocol, "algorithm": algorithm, "param": param, "fixed": fixed}
        for sf, at in line.groupby("stragglers", sort=True):
            top = at.loc[at["last10_acc_mean"].idxmax()]
            rows.append({**base, "stragglers": float(sf), "value": float(top["value"]),
                         "last10_acc": float(top["last10_acc_mean"]), "n_rates": 1})
        n_rates = line["stragglers"].nunique()
        counts = line.groupby("value")["stragglers"].nunique()
        everywhere = line[line["value"].isin(counts[counts == n_rates].index)]
        if n_rates > 1 and not everywhere.empty:
            means = everywhere.groupby("value")["last10_acc_mean"].mean()
            rows.append({**base, "stragglers": math.nan, "value": float(means.idxmax()),
                         "last10_acc": float(means.max()), "n_rates": int(n_rates)})
    order = sorted(range(len(rows)), key=lambda i: (
        rows[i]["protocol"], sort_key(rows[i]["algorithm"], 0.0), rows[i]["param"],
        rows[i]["fixed"], math.isnan(rows[i]["stragglers"]), rows[i]["stragglers"]))
    return pd.DataFrame([rows[i] for i in order], columns=columns)

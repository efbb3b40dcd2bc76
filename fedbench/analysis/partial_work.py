"""A paper's claim about averaging the stragglers' partial work, measured on a straggler grid:
FedNova's (Wang et al., NeurIPS 2020) that plain averaging of unequal local work converges to
a mismatched objective and normalised averaging does not.

The claim is an algorithm's (``docs.partial_work_claim``, set in its module); what it is
compared with is found in the registry, not named: the algorithm that at μ = 0 is plain
averaging keeping the stragglers' partial work, i.e. the one with a proximal term that keeps
partial work (FedProx μ = 0). Per protocol and straggler rate, each metric is differenced seed
by seed (the claimant minus the reference; equal seeds see equal partitions, clients and
stragglers), with the 95 % Student t interval of ``fedbench.analysis.statistics``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from fedbench.algorithms import label, params_from_text, registry, sort_key
from fedbench.analysis.statistics import paired_t_interval
from fedbench.analysis.summary import LAST_K, RUN_KEYS, per_run_metrics, runs_of_tables

if TYPE_CHECKING:
    from fedbench.algorithms.base import Algorithm

# (column of the per-run metrics, its name in the report, whether higher is better)
METRICS = (
    ("last10_acc", f"last-{LAST_K} accuracy", True),
    ("final_loss", "final test loss", False),
    ("final_train_loss", "final training loss", False),  # over every client's training data
)


@dataclass(frozen=True)
class ClaimPair:
    """A variant of an algorithm with a partial-work claim, and what it is compared with."""

    claimant: str  # the algorithm (name) whose paper makes the claim
    mu: float
    params: str  # the variant's params as summary.csv writes them ("" for none)
    reference: str  # the proximal algorithm that keeps partial work, run at μ = 0

    @property
    def claimant_label(self) -> str:
        return label(self.claimant, self.mu, params_from_text(self.params))

    @property
    def reference_label(self) -> str:
        return label(self.reference, 0.0)


def partial_work_average() -> Algorithm | None:
    """The algorithm that at μ = 0 averages the stragglers' partial work as it is (FedProx):
    a proximal algorithm that keeps partial work; None if the registry has none."""
    found = [a for a in registry().values() if a.uses_mu and not a.drop_stragglers]
    return found[0] if found else None


def _params_text(params: Any) -> str:
    if isinstance(params, str):
        return params
    return ", ".join(f"{k}={float(v):g}" for k, v in sorted((params or {}).items()))


def partial_work_pairs(cells: Iterable[tuple[Any, ...]]) -> list[ClaimPair]:
    """The claims a grid can show, from its cells (algorithm, μ, straggler rate[, params]):
    each variant of an algorithm with a partial-work claim that ran at a straggler rate where
    the reference ran at μ = 0 (without params)."""
    reference = partial_work_average()
    if reference is None:
        return []
    cells = [(str(c[0]), float(c[1]), float(c[2]), _params_text(c[3] if len(c) > 3 else ""))
             for c in cells]
    rates = {sf for a, mu, sf, p in cells if a == reference.name and mu == 0.0 and not p}
    pairs = set()
    for algorithm, mu, sf, params in cells:
        found = registry().get(algorithm)
        if found is not None and found.docs.partial_work_claim and sf in rates:
            pairs.add(ClaimPair(algorithm, mu, params, reference.name))
    return sorted(pairs, key=lambda p: (sort_key(p.claimant, p.mu), p.params))


def run_metrics(rounds_df: pd.DataFrame, summary_df: pd.DataFrame) -> pd.DataFrame:
    """Per run ``per_run_metrics`` plus ``final_train_loss``: the loss over every client's
    training data at the last round (NaN where the protocol evaluates centrally, or the run
    diverged)."""
    runs = runs_of_tables(rounds_df, summary_df)
    metrics = per_run_metrics(rounds_df, runs)
    if "global_train_loss" in rounds_df:
        last = rounds_df.merge(runs[[*RUN_KEYS, "rounds"]], on=list(RUN_KEYS))
        last = last[last["round"] == last["rounds"]][[*RUN_KEYS, "global_train_loss"]]
        metrics = metrics.merge(last.rename(columns={"global_train_loss": "final_train_loss"}),
                                on=list(RUN_KEYS), how="left")
        metrics.loc[metrics["status"] != "ok", "final_train_loss"] = math.nan
    else:
        metrics["final_train_loss"] = math.nan
    return metrics


def _favours(pair: ClaimPair, low: float, high: float, higher_better: bool) -> str:
    """Which side a 95 % interval favours: the claimant, the reference, or neither (it holds 0
    or there is none)."""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high:
        return "neither"
    better = (low > 0) == higher_better
    return pair.claimant_label if better else pair.reference_label


def partial_work_differences(rounds_df: pd.DataFrame,
                             summary_df: pd.DataFrame) -> pd.DataFrame:
    """Per claim, protocol, straggler rate and metric the paired difference claimant −
    reference over the seeds both ran without diverging.

    Columns: claimant, reference (labels), protocol, stragglers, metric (its report name),
    higher_better, n_pairs, claimant_mean, reference_mean, diff_mean, diff_std, ci_low,
    ci_high, favours. A metric no run of the protocol has (a centrally evaluated protocol's
    training loss) has no rows; nor does a rate where the two ran different round counts.
    """
    cells = list(zip(summary_df["algorithm"], summary_df["mu"], summary_df["stragglers"],
                     summary_df["params"] if "params" in summary_df else [""] * len(summary_df),
                     strict=True))
    pairs = partial_work_pairs(cells)
    rows: list[dict[str, Any]] = []
    columns = ["claimant", "reference", "protocol", "stragglers", "metric", "higher_better",
               "n_pairs", "claimant_mean", "reference_mean", "diff_mean", "diff_std", "ci_low",
               "ci_high", "favours"]
    if not pairs:
        return pd.DataFrame(rows, columns=columns)
    metrics = run_metrics(rounds_df, summary_df)
    ok = metrics[metrics["status"] == "ok"]
    for pair in pairs:
        mine = ok[(ok["algorithm"] == pair.claimant) & (ok["mu"] == pair.mu)
                  & (ok["params"].fillna("") == pair.params)]
        theirs = ok[(ok["algorithm"] == pair.reference) & (ok["mu"] == 0.0)
                    & (ok["params"].fillna("") == "")]
        for (protocol, sf), a in mine.groupby(["protocol", "stragglers"], sort=True):
            b = theirs[(theirs["protocol"] == protocol) & (theirs["stragglers"] == sf)]
            if b.empty or set(a["rounds"]) != set(b["rounds"]):
                continue
            a, b = a.set_index("seed"), b.set_index("seed")
            for column, name, higher_better in METRICS:
                seeds = sorted(s for s in set(a.index) & set(b.index)
                               if math.isfinite(a.at[s, column])
                               and math.isfinite(b.at[s, column]))
                if not seeds:
                    continue
                diffs = [float(a.at[s, column] - b.at[s, column]) for s in seeds]
                mean, std, low, high = paired_t_interval(diffs)
                rows.append({
                    "claimant": pair.claimant_label, "reference": pair.reference_label,
                    "protocol": protocol, "stragglers": float(sf), "metric": name,
                    "higher_better": higher_better, "n_pairs": len(seeds),
                    "claimant_mean": float(a.loc[seeds, column].mean()),
                    "reference_mean": float(b.loc[seeds, column].mean()),
                    "diff_mean": mean, "diff_std": std, "ci_low": low, "ci_high": high,
                    "favours": _favours(pair, low, high, higher_better)})
    return pd.DataFrame(rows, columns=columns)

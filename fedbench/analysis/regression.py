"""Regression check on final accuracy: a reference per cell, a band from seed spread, claims.

Why this exists: a user who changes the code must learn in CI whether the
canonical cells still reach the accuracy they should. A rerun of the *same*
code with the same seeds is deterministic, so a reference could in principle be
compared exactly — but legitimate changes (another BLAS, a reordered sum, a
refactor that draws random numbers in a different order) move the numbers
without being regressions. The band therefore has to be as wide as the
difference such a change can produce, and no wider.

The band rule (see :func:`band_half_width`)::

    band = max(K * std * sqrt(2 / n), FLOOR)      K = 3, FLOOR = 0.005

``std`` is the measured standard deviation over seeds of the metric and ``n``
the number of seeds behind the reference mean. A change that re-draws the
randomness is, statistically, a fresh sample of ``n`` seeds: the new mean and
the reference mean are two independent means of ``n`` draws, so their
difference has standard deviation ``std * sqrt(2 / n)`` (the standard error of
a difference of means). ``K = 3`` such standard deviations. Since ``std`` itself
is estimated from few seeds, the honest null distribution of
``delta / (std * sqrt(2 / n))`` is Student's t with ``n - 1`` degrees of freedom:
with 5 seeds a pure re-draw trips one cell about 4 % of the time (``P(|t_4| > 3)``),
where ``K * std / sqrt(n)`` with the same K (about 2.1 standard deviations of the
difference) would trip it about 10 % of the time — too often for a 9-cell grid.
``FLOOR`` (0.005 = 50 of the 10,000 test images) keeps cells whose seeds happen
to agree closely from failing on numerical drift alone.

The metric is ``last10_acc_mean`` (per seed, the mean test accuracy over the
last 10 rounds; then the mean over seeds): far less noisy than the accuracy at
the last round, which for FedAvg with 90 % stragglers swings by several points
from one round to the next.

The published *qualitative* claims are checked from the summary's paired
differences (last-10 accuracy of a FedProx cell minus FedAvg at the same
straggler rate, paired by seed), see :func:`evaluate_claims`. Which cells they
apply to is asked of the algorithm registry (the baseline, the algorithms with a
proximal weight μ), so the claims follow the algorithms, not their names.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedbench.algorithms import baseline, registry
from fedbench.errors import UsageError
from fedbench.io import atomic_write_text

if TYPE_CHECKING:  # pandas is imported where used: `fedbench --help` must stay instant
    import pandas as pd

METRIC = "last10_acc_mean"
"""The summary column the regression check compares (mean over seeds)."""
METRIC_STD = {"last10_acc_mean": "last10_acc_std", "final_acc_mean": "final_acc_std",
              "final_loss_mean": "final_loss_std"}
"""Which summary column holds the seed spread of each metric a reference can be built on."""

K = 3.0
"""Band width in standard deviations of the difference of two n-seed means."""
FLOOR = 0.005
"""Smallest band half-width (accuracy units): tolerates pure numerical drift."""
BAND_RULE = "band = max(k * std * sqrt(2 / n), floor)"

HIGH_STRAGGLERS = 0.9
"""Straggler rate of the published "FedProx beats FedAvg" claim."""
CLOSE_CLAIM = "close-at-0"
"""Name of the claim that at 0 % stragglers every FedProx cell is close to FedAvg."""
CLOSE_TOL = 0.10
"""At 0 % stragglers FedProx and FedAvg must agree within this (last-10 accuracy).

Flower's published curves at 0 % stragglers end between about 0.78 and 0.85 for all three
variants (read off a figure, PROTOCOLS.md section 1): a spread of 0.07. The tolerance adds
reading error and seed noise to that spread; the 90 % gap it separates from is about 0.2.
"""

CELL_KEYS = ("protocol", "algorithm", "mu", "stragglers")
PAIRED_COLUMNS = ("paired_diff_last10_mean", "paired_ci_low", "paired_ci_high", "n_pairs")
SUMMARY_REQUIRED = (*CELL_KEYS, "n_seeds", "n_diverged", *PAIRED_COLUMNS)
SUMMARY_NUMERIC = ("mu", "stragglers", "n_seeds", "n_diverged", "rounds", *PAIRED_COLUMNS,
                   "final_acc_mean", "final_acc_std", "last10_acc_mean", "last10_acc_std",
                   "best_acc_mean", "final_loss_mean", "final_loss_std")

EXPECTED_COLUMNS = ("protocol", "algorithm", "mu", "stragglers", "variant", "metric",
                    "expected", "std", "n", "band", "n_seeds", "n_diverged", "rounds",
                    "paired_sign")
"""Columns ``make_expected`` writes; only those in EXPECTED_REQUIRED must be present to read."""
EXPECTED_REQUIRED = ("protocol", "algorithm", "mu", "stragglers", "metric", "expected", "band")
EXPECTED_NUMERIC = ("mu", "stragglers", "expected", "std", "n", "band", "n_seeds", "n_diverged",
                    "rounds")

_ABS_EPS = 1e-9  # comparisons "inside the band" and of mu/stragglers tolerate float noise


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Expected:
    """A reference: one row per (cell, metric) plus provenance (the ``.meta.json`` side file)."""

    cells: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimResult:
    """One published qualitative claim evaluated on one summary row."""

    claim: str
    cell: str
    value: float
    ok: bool
    detail: str


@dataclass(frozen=True)
class CheckResult:
    """Per-cell comparison, claims, and cells of the summary the reference does not cover."""

    cells: pd.DataFrame  # cell, metric, expected, band, got, delta, ok, note
    claims: list[ClaimResult]
    unchecked: list[str]

    @property
    def failed_cells(self) -> pd.DataFrame:
        return self.cells[~self.cells["ok"]]

    @property
    def failed_claims(self) -> list[ClaimResult]:
        return [c for c in self.claims if not c.ok]

    @property
    def ok(self) -> bool:
        return bool(self.cells["ok"].all()) and not self.failed_claims


# --------------------------------------------------------------------------- band rule


def band_half_width(std: float, n: int, k: float = K, floor: float = FLOOR) -> float:
    """Half-width of the band around a reference mean of ``n`` seeds with seed spread ``std``.

    ``std * sqrt(2 / n)`` is the standard deviation of the difference between two
    independent ``n``-seed means — what a change that re-draws the randomness
    produces; ``k`` of those, never less than ``floor``. A spread cannot be
    measured from one seed, hence ``n >= 2``.
    """
    if not n >= 2:
        raise ValueError(f"a seed spread needs at least 2 seeds (got n={n})")
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"std must be a finite number >= 0 (got {std})")
    if k < 0 or floor < 0:
        raise ValueError(f"k and floor must be >= 0 (got k={k}, floor={floor})")
    return max(k * std * math.sqrt(2.0 / n), floor)


# --------------------------------------------------------------------------- cells


def _key(protocol: Any, algorithm: Any, mu: Any, stragglers: Any) -> tuple[str, str, float, float]:
    """A cell's identity, normalised so that "0.90" and "0.9" or "FedAvg" and "fedavg" match."""
    return (str(protocol).strip(), str(algorithm).strip().lower(),
            round(float(mu), 9), round(float(stragglers), 9))


def _algorithm(row: Any) -> str:
    """A row's algorithm as a cell key names it: with its params, when it has any
    ("fedadam[server_lr=0.01]"), so that variants of one algorithm are distinct cells; a
    summary or reference without a params column has none."""
    params = row.get("params")
    return str(row["algorithm"]) if _is_blank(params) else f"{row['algorithm']}[{params}]"


def cell_label(key: tuple[str, str, float, float]) -> str:
    """Short, grep-able name of a cell, e.g. ``flower-baseline/fedprox mu=2 sf=0.9``; μ is
    left out for an algorithm without a proximal weight (``flower-baseline/fedavg sf=0.9``)."""
    protocol, algorithm, mu, stragglers = key
    known = registry().get(algorithm)
    plain = known is not None and not known.uses_mu and mu == 0
    mu_part = "" if plain else f" mu={mu:g}"
    return f"{protocol}/{algorithm}{mu_part} sf={stragglers:g}"


def _where(df: pd.DataFrame, idx: Any) -> str:
    return f"line {idx}" if df.index.name == "line" else f"row {idx}"


def _validate(df: pd.DataFrame, required: Sequence[str], numeric: Sequence[str],
              what: str) -> pd.DataFrame:
    """Required columns present, numeric columns numbers (empty/NaN allowed), keys non-empty.

    Returns a copy with numeric columns as floats. Every problem names the column
    and the row (the file's line number when the frame came from a read_* function).
    """
    import pandas as pd

    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UsageError(f"{what}: missing column(s) {', '.join(missing)} "
                         f"(has: {', '.join(map(str, df.columns)) or 'none'})")
    out = df.copy()
    for col in numeric:
        if col not in out.columns:
            continue
        values = [_number(raw, f"{what}, {_where(df, idx)}: column {col!r}")
                  for idx, raw in out[col].items()]
        out[col] = pd.Series(values, index=out.index, dtype="float64")
    for col in ("protocol", "algorithm"):
        if col in out.columns:
            for idx, raw in out[col].items():
                if _is_blank(raw):
                    raise UsageError(f"{what}, {_where(df, idx)}: column {col!r} is empty")
    for col in ("mu", "stragglers"):
        if col in out.columns:
            bad = out[col][~out[col].map(math.isfinite)]
            if len(bad):
                raise UsageError(f"{what}, {_where(df, bad.index[0])}: column {col!r} "
                                 f"must be a number (got {df[col][bad.index[0]]!r})")
    return out


def _is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, float) and math.isnan(raw)) or not str(raw).strip()


def _number(raw: Any, where: str) -> float:
    """A cell as float: empty or "nan" is NaN (a value that is absent), text is an error."""
    if _is_blank(raw):
        return math.nan
    if isinstance(raw, bool):
        raise UsageError(f"{where} is not a number: {raw!r}")
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    if text.lower() in ("nan", "na", "null", "none"):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{where} is not a number: {text!r}") from None


def _index_cells(df: pd.DataFrame, what: str, extra_key: str | None = None) -> dict[tuple, Any]:
    """Map each row's cell key (plus ``extra_key``'s value) to its index; duplicates are errors."""
    seen: dict[tuple, Any] = {}
    for idx, row in df.iterrows():
        key = _key(row["protocol"], _algorithm(row), row["mu"], row["stragglers"])
        full = (*key, str(row[extra_key]).strip()) if extra_key else key
        if full in seen:
            raise UsageError(f"{what}: cell {cell_label(key)} appears twice "
                             f"({_where(df, seen[full])} and {_where(df, idx)})")
        seen[full] = idx
    return seen


def _int_or_nan(value: float) -> float | int:
    return int(value) if math.isfinite(value) else math.nan


def make_expected(summary_df: pd.DataFrame, provenance: Mapping[str, Any], *,
                  metric: str = METRIC, k: float = K, floor: float = FLOOR) -> Expected:
    """Build the reference from a measured summary: per cell expected mean, spread, band.

    ``n`` is the number of non-diverged seeds (``n_seeds - n_diverged``): whether
    the summary's mean includes diverged seeds or not, the band is then never
    narrower than the spread justifies. Refuses cells with fewer than 2 such
    seeds or no finite spread — a band must come from a *measured* spread, not a
    guess. ``provenance`` (version, commit, seeds, ...) goes into ``meta`` with
    the band rule, so the reference can be traced and re-derived.
    """
    import pandas as pd

    std_col = METRIC_STD.get(metric)
    if std_col is None:
        raise UsageError(f"no reference can be built on metric {metric!r}; "
                         f"choose one of {', '.join(METRIC_STD)}")
    what = "summary"
    df = _validate(summary_df, (*CELL_KEYS, "n_seeds", "n_diverged", metric, std_col),
                   SUMMARY_NUMERIC, what)
    if df.empty:
        raise UsageError(f"{what}: no rows; nothing to build a reference from")
    _index_cells(df, what)
    rows = []
    for idx, row in df.iterrows():
        key = _key(row["protocol"], _algorithm(row), row["mu"], row["stragglers"])
        label = cell_label(key)
        mean, std = float(row[metric]), float(row[std_col])
        n_seeds, n_div = row["n_seeds"], row["n_diverged"]
        if not (math.isfinite(n_seeds) and math.isfinite(n_div)):
            raise UsageError(f"{what}, {_where(df, idx)} ({label}): n_seeds and n_diverged "
                             "must be numbers")
        n = int(n_seeds) - int(n_div)
        if n < 2:
            raise UsageError(f"{what}, {_where(df, idx)} ({label}): {n} non-diverged seed(s); "
                             "a reference needs at least 2 to measure the seed spread")
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise UsageError(f"{what}, {_where(df, idx)} ({label}): {metric}={mean}, "
                             f"{std_col}={std}; both must be finite numbers")
        rows.append({
            "protocol": key[0], "algorithm": key[1], "mu": key[2], "stragglers": key[3],
            "variant": "" if _is_blank(row.get("variant")) else str(row["variant"]),
            "metric": metric,
            "expected": mean, "std": std, "n": n, "band": band_half_width(std, n, k, floor),
            "n_seeds": int(n_seeds), "n_diverged": int(n_div),
            "rounds": _int_or_nan(float(row.get("rounds", math.nan))),
            "paired_sign": _measured_sign(row),
        })
    cells = pd.DataFrame(rows, columns=list(EXPECTED_COLUMNS))
    cells = cells.sort_values(["protocol", "algorithm", "mu", "stragglers"], kind="stable")
    meta = {**dict(provenance), "metric": metric, "band_rule": BAND_RULE, "k": k, "floor": floor,
            "n_cells": len(cells)}
    return Expected(cells.reset_index(drop=True), meta)


# --------------------------------------------------------------------------- claims


MEASURED_CLAIM = "measured-vs-{baseline}"


def _measured_sign(row: Any) -> str:
    """"+" or "-" when the cell's paired difference from the baseline is significant (its
    95 % interval excludes 0) in the summary a reference is built from, else "": a difference
    once measured becomes a claim the check keeps (``measured_claims``)."""
    low, high = row.get("paired_ci_low", math.nan), row.get("paired_ci_high", math.nan)
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return "+" if low > 0 else "-" if high < 0 else ""


def measured_claims(exp: pd.DataFrame, summ: pd.DataFrame,
                    summ_index: dict[tuple, Any]) -> list[ClaimResult]:
    """Every reference cell with a ``paired_sign``: its difference from the baseline must
    still be significant in that direction (the 95 % CI of the summary's paired difference
    excludes 0 on that side)."""
    if "paired_sign" not in exp.columns:
        return []
    claim = MEASURED_CLAIM.format(baseline=baseline().name)
    results = []
    for _, e in exp.iterrows():
        sign = "" if _is_blank(e["paired_sign"]) else str(e["paired_sign"]).strip()
        if sign not in ("+", "-"):
            continue
        key = _key(e["protocol"], e["algorithm"], e["mu"], e["stragglers"])
        s = summ.loc[summ_index[key]]
        low, high, diff = (float(s[c]) for c in ("paired_ci_low", "paired_ci_high",
                                                 "paired_diff_last10_mean"))
        ok = (low > 0) if sign == "+" else (high < 0)
        bound = "CI low must be > 0" if sign == "+" else "CI high must be < 0"
        results.append(ClaimResult(
            claim, cell_label(key), low if sign == "+" else high, bool(ok),
            f"paired diff {diff:+.4f}, 95% CI [{low:+.4f}, {high:+.4f}] (measured {sign} "
            f"when the reference was made); {bound}"))
    return results


def beats_claim(algorithm: str) -> str:
    """Name of the claim that ``algorithm`` with μ > 0 beats the baseline at high stragglers,
    e.g. ``fedprox-beats-fedavg``."""
    return f"{algorithm}-beats-{baseline().name}"


def evaluate_claims(summary_df: pd.DataFrame, close_tol: float = CLOSE_TOL) -> list[ClaimResult]:
    """The published qualitative claims, from the summary's paired (by seed) differences.

    They are about FedProx against FedAvg; here, about every algorithm with a proximal weight
    (``uses_mu``: FedProx) against the baseline algorithm (FedAvg):

    * ``fedprox-beats-fedavg`` (``beats_claim``): at 90 % stragglers every such cell with
      mu > 0 beats the baseline: the 95 % CI of the paired difference lies above 0
      (``paired_ci_low > 0``). With a single pair there is no CI; the point
      difference must then be > 0 — weak evidence, but the published gap
      (≈ 0.86 vs ≈ 0.6) is so large that even one seed showing the wrong sign
      means something broke.
    * ``close-at-0``: at 0 % stragglers every such cell (any mu) is within ``close_tol``
      of the baseline (``|paired_diff_last10_mean| <= close_tol``). The point
      difference, not the CI: with 5 seeds a CI can be wider than the tolerance
      even when the two agree, and "close" is about the size of the gap.

    A claim applies only when both its row and the baseline's row of the same
    protocol and straggler rate are in the summary; when they are but no paired
    difference exists (no common seeds), the claim fails rather than silently passing.
    """
    df = _validate(summary_df, (*CELL_KEYS, *PAIRED_COLUMNS), SUMMARY_NUMERIC, "summary")
    reference = baseline()
    proximal = {a.name for a in registry().values() if a.uses_mu and not a.baseline}
    with_baseline = {(k[0], k[3]) for k in _index_cells(df, "summary") if k[1] == reference.name}
    no_pair = f"no paired difference vs {reference.docs.title} (no common seeds)"
    results: list[ClaimResult] = []
    for _, row in df.iterrows():
        key = _key(row["protocol"], _algorithm(row), row["mu"], row["stragglers"])
        protocol, algorithm, mu, sf = key
        if algorithm not in proximal or (protocol, sf) not in with_baseline:
            continue
        label = cell_label(key)
        diff, low, high = (float(row[c]) for c in ("paired_diff_last10_mean", "paired_ci_low",
                                                    "paired_ci_high"))
        n_pairs = row["n_pairs"]
        pairs = int(n_pairs) if math.isfinite(n_pairs) else 0
        if math.isclose(sf, HIGH_STRAGGLERS, abs_tol=_ABS_EPS) and mu > 0:
            claim = beats_claim(algorithm)
            if pairs < 1 or not math.isfinite(diff):
                results.append(ClaimResult(claim, label, math.nan, False, no_pair))
            elif pairs == 1:
                results.append(ClaimResult(
                    claim, label, diff, diff > 0,
                    f"paired diff {diff:+.4f} (1 pair, no CI) must be > 0"))
            elif not math.isfinite(low):
                results.append(ClaimResult(claim, label, math.nan, False,
                                           f"{pairs} pairs but no CI in the summary"))
            else:
                results.append(ClaimResult(
                    claim, label, low, low > 0,
                    f"paired diff {diff:+.4f}, 95% CI [{low:+.4f}, {high:+.4f}] "
                    f"({pairs} pairs); CI low must be > 0"))
        elif math.isclose(sf, 0.0, abs_tol=_ABS_EPS):
            if pairs < 1 or not math.isfinite(diff):
                results.append(ClaimResult(CLOSE_CLAIM, label, math.nan, False, no_pair))
            else:
                results.append(ClaimResult(
                    CLOSE_CLAIM, label, diff, abs(diff) <= close_tol + _ABS_EPS,
                    f"paired diff {diff:+.4f} ({pairs} pairs); |diff| must be <= {close_tol:g}"))
    return results


# --------------------------------------------------------------------------- check


def check(summary_df: pd.DataFrame, expected: Expected | pd.DataFrame, *,
          close_tol: float = CLOSE_TOL) -> CheckResult:
    """Compare a summary with a reference: per cell got vs expected within the band, and claims.

    Unusable input raises UsageError: a reference cell absent from the summary
    (the check would be vacuous for it), a cell measured with a different number
    of seeds or rounds than the reference (the band is only meaningful for the
    reference's seeds), missing columns, non-numbers. Summary cells the
    reference does not cover are listed in ``unchecked`` — a new variant must
    not break CI before it has a reference.

    A cell fails when ``|got - expected| > band``, when its metric is NaN, or
    when more of its seeds diverged than in the reference.
    """
    import pandas as pd

    exp_df = expected.cells if isinstance(expected, Expected) else expected
    exp = _validate(exp_df, EXPECTED_REQUIRED, EXPECTED_NUMERIC, "expected")
    for idx, row in exp.iterrows():
        for col in ("expected", "band"):
            if not math.isfinite(row[col]):
                raise UsageError(f"expected, {_where(exp_df, idx)}: column {col!r} must be a "
                                 f"finite number (got {exp_df[col][idx]!r})")
        if row["band"] < 0:
            raise UsageError(f"expected, {_where(exp_df, idx)}: band must be >= 0 "
                             f"(got {row['band']})")
        if not str(row["metric"]).strip():
            raise UsageError(f"expected, {_where(exp_df, idx)}: column 'metric' is empty")
    if exp.empty:
        raise UsageError("expected: no rows; nothing to check against")
    exp_index = _index_cells(exp, "expected", extra_key="metric")

    metrics = sorted({str(m).strip() for m in exp["metric"]})
    comparable = [c for c in SUMMARY_NUMERIC if c.endswith("_mean")]  # a mean over seeds
    for idx, metric in exp["metric"].items():
        if str(metric).strip() not in comparable:
            raise UsageError(f"expected, {_where(exp_df, idx)}: column 'metric' names "
                             f"{str(metric).strip()[:60]!r}, not a numeric column of the summary; "
                             f"allowed: {', '.join(comparable)}")
    summ = _validate(summary_df, (*SUMMARY_REQUIRED, *metrics), SUMMARY_NUMERIC, "summary")
    summ_index = _index_cells(summ, "summary")

    missing = [cell_label(full[:4]) for full in exp_index if full[:4] not in summ_index]
    if missing:
        raise UsageError(f"summary lacks {len(missing)} cell(s) of the reference: "
                         f"{'; '.join(dict.fromkeys(missing))}")

    rows = []
    for full, e_idx in exp_index.items():
        key, metric = full[:4], full[4]
        e, s = exp.loc[e_idx], summ.loc[summ_index[key]]
        label = cell_label(key)
        for col, what in (("n_seeds", "seeds"), ("rounds", "rounds")):
            if col in exp.columns and col in summ.columns:
                ref, got_n = e[col], s[col]
                if math.isfinite(ref) and math.isfinite(got_n) and ref != got_n:
                    raise UsageError(
                        f"cell {label}: summary has {got_n:g} {what}, the reference {ref:g}; "
                        f"check a summary produced with the reference's {what}")
        got, want, band = float(s[metric]), float(e["expected"]), float(e["band"])
        delta = got - want
        notes = []
        ok = math.isfinite(got) and abs(delta) <= band + _ABS_EPS
        if not math.isfinite(got):
            notes.append(f"no {metric}")
        elif not ok:
            notes.append("outside band")
        ref_div = e["n_diverged"] if "n_diverged" in exp.columns else math.nan
        if math.isfinite(ref_div) and math.isfinite(s["n_diverged"]) and s["n_diverged"] > ref_div:
            ok = False
            notes.append(f"{s['n_diverged']:g} diverged seed(s), reference {ref_div:g}")
        rows.append({"cell": label, "metric": metric, "expected": want, "band": band,
                     "got": got, "delta": delta, "ok": ok, "note": "; ".join(notes)})
    cells = pd.DataFrame(rows, columns=["cell", "metric", "expected", "band", "got", "delta",
                                        "ok", "note"])
    cells["ok"] = cells["ok"].astype(bool)
    covered = {full[:4] for full in exp_index}
    unchecked = [cell_label(k) for k in summ_index if k not in covered]
    claims = [*evaluate_claims(summ, close_tol), *measured_claims(exp, summ, summ_index)]
    return CheckResult(cells, claims, unchecked)


# --------------------------------------------------------------------------- files


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    """A CSV as strings, indexed by file line number; ``#`` lines and blank lines are skipped.

    Malformed files (no header, a row with the wrong number of fields) raise
    UsageError naming the line.
    """
    import pandas as pd

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} file {path} cannot be read: {exc}") from None
    kept = [(n, line) for n, line in enumerate(text.splitlines(keepends=True), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not kept:
        raise UsageError(f"{what} file {path} is empty (no header row)")
    reader = csv.reader([line for _, line in kept])
    try:
        header = [h.strip() for h in next(reader)]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes or "" in header:
            raise UsageError(f"{path}, line {kept[0][0]}: header has duplicate or empty "
                             f"column names ({', '.join(dupes) or 'empty'})")
        records, lines = [], []
        for row in reader:
            line = kept[reader.line_num - 1][0]
            if len(row) != len(header):
                raise UsageError(f"{path}, line {line}: {len(row)} field(s), the header has "
                                 f"{len(header)}")
            records.append(row)
            lines.append(line)
    except csv.Error as exc:
        raise UsageError(f"{path}: malformed CSV: {exc}") from None
    return pd.DataFrame(records, columns=header, index=pd.Index(lines, name="line"), dtype=object)


def read_summary(path: Path) -> pd.DataFrame:
    """``reports/<name>/summary.csv`` as written by ``fedbench aggregate``, validated."""
    df = _read_csv(path, "summary")
    if not Path(path).read_bytes().endswith(b"\n"):  # `fedbench aggregate` ends every line
        raise UsageError(f"summary {path}: the last line is cut off (no newline at the end of "
                         "the file): the file is incomplete; rerun `fedbench aggregate` (or "
                         "snakemake) to write it again")
    return _validate(df, SUMMARY_REQUIRED, SUMMARY_NUMERIC, f"summary {path}")


def meta_path(csv_path: Path) -> Path:
    """``configs/expected/<name>.csv`` -> ``configs/expected/<name>.meta.json``."""
    p = Path(csv_path)
    return p.with_name(p.stem + ".meta.json")


def read_expected(path: Path) -> Expected:
    """A reference CSV plus its ``.meta.json`` side file.

    The CSV alone is enough to check against (the meta file is provenance, and
    ``#`` comment lines in the CSV are ignored), so a missing meta file gives
    empty ``meta``; a meta file that exists but is not a JSON object is an error.
    """
    df = _read_csv(path, "expected")
    _validate(df, EXPECTED_REQUIRED, EXPECTED_NUMERIC, f"expected {path}")
    mp = meta_path(path)
    meta: dict[str, Any] = {}
    if mp.exists():
        try:
            meta = json.loads(mp.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{mp}: not readable JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise UsageError(f"{mp}: must hold a JSON object, got {type(meta).__name__}")
    return Expected(df, meta)


def _fmt_number(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(round(value, 6))  # accuracies: 6 decimals are exact enough, diffs stay readable
    return str(value)


def expected_csv_text(expected: Expected) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = [c for c in EXPECTED_COLUMNS if c in expected.cells.columns]
    writer.writerow(cols)
    for _, row in expected.cells.iterrows():
        writer.writerow([_fmt_number(row[c]) for c in cols])
    return buf.getvalue()


def write_expected(path: Path, expected: Expected) -> Path:
    """Write the CSV and its ``.meta.json`` atomically; the CSV last (it marks completeness)."""
    mp = meta_path(path)
    atomic_write_text(mp, json.dumps(expected.meta, indent=2, sort_keys=True, default=str) + "\n")
    atomic_write_text(Path(path), expected_csv_text(expected))
    return mp


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- text output


def format_table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """Plain fixed-width table (CI logs): left-aligned text, right-aligned numbers."""
    body = [[str(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(header)]

    def line(values: Sequence[str], numeric: Sequence[bool]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    numeric = [bool(body) and all(_looks_numeric(r[i]) for r in body) for i in range(len(header))]
    out = [line(list(header), numeric), line(["-" * w for w in widths], numeric)]
    out += [line(r, numeric) for r in body]
    return "\n".join(out)


def _looks_numeric(text: str) -> bool:
    t = text.lstrip("±+-")
    try:
        float(t)
    except ValueError:
        return t in ("", "nan")
    return True


def cell_rows(cells: pd.DataFrame, *, with_ok: bool) -> tuple[list[list[str]], list[str]]:
    """Rows and header for printing per-cell results (metric shown only if there are several)."""
    several = cells["metric"].nunique() > 1
    header = ["cell", *(["metric"] if several else []), "expected", "band", "got", "delta"]
    header += ["ok", "note"] if with_ok else ["note"]
    rows = []
    for _, r in cells.iterrows():
        row = [r["cell"], *([r["metric"]] if several else []), f"{r['expected']:.4f}",
               f"±{r['band']:.4f}", f"{r['got']:.4f}", f"{r['delta']:+.4f}"]
        row += ["ok" if r["ok"] else "FAIL", r["note"]] if with_ok else [r["note"]]
        rows.append(row)
    return rows, header


def claim_rows(claims: Sequence[ClaimResult]) -> tuple[list[list[str]], list[str]]:
    return ([[c.claim, c.cell, "ok" if c.ok else "FAIL", c.detail] for c in claims],
            ["claim", "cell", "ok", "detail"])

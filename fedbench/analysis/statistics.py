"""The statistics of fedbench's tables, without scipy: t quantiles, the paired t interval, and
means over seeds that leave missing values out.

Standard deviations are sample (ddof=1) standard deviations; with one value they are NaN, not
an error: a single seed has a mean but no measured spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

# Two-sided 95 % Student t quantiles t(0.975, df) for df = 1..30, computed to
# double precision from the regularized incomplete beta function (they match
# every printed t table to its last digit).
_T975 = (
    12.706204736174694, 4.302652729749462, 3.1824463052837086, 2.7764451051977934,
    2.5705818356363146, 2.4469118511449692, 2.364624251592785, 2.3060041352041662,
    2.262157162798205, 2.2281388519862744, 2.2009851600916392, 2.1788128296672284,
    2.160368656462792, 2.1447866879178035, 2.131449545559775, 2.119905299221254,
    2.1098155778333165, 2.1009220402410382, 2.093024054408309, 2.0859634472658644,
    2.07961384472768, 2.073873067904026, 2.068657610419048, 2.0638985616280254,
    2.0595385527532972, 2.0555294386428726, 2.051830516480285, 2.0484071417952445,
    2.045229642132704, 2.0422724563012378,
)
_Z975 = 1.959963984540054  # standard normal 0.975 quantile


def t_quantile_975(df: int) -> float:
    """Two-sided 95 % Student t quantile t(0.975, df).

    scipy is not a dependency, so: exact values from a table for df ≤ 30, and
    above that the Cornish–Fisher expansion of t in powers of 1/df
    (Abramowitz & Stegun 26.7.5, four terms), whose error is below 1e-7 there.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1 (got {df})")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def paired_t_interval(diffs: Sequence[float]) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of paired differences, 95 % t interval.

    With no pairs everything is NaN; with one pair the mean is known but the
    spread is not, so std and the interval are NaN.
    """
    values = [float(d) for d in diffs]
    n = len(values)
    if n == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    mean = sum(values) / n
    if n == 1:
        return (mean, math.nan, math.nan, math.nan)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    return (mean, std, mean - half, mean + half)


def mean_std(values: pd.Series) -> tuple[float, float]:
    """Mean and sample std of the values present (NaN ones are runs that have none)."""
    clean = values.dropna()
    if clean.empty:
        return (math.nan, math.nan)
    std = float(clean.std(ddof=1)) if len(clean) > 1 else math.nan
    return (float(clean.mean()), std)


def mean_if_all(values: pd.Series) -> float:
    """Mean over seeds, NaN unless every seed has a value: a mean over the seeds that happen
    to have one would silently be a mean over a different set of runs."""
    return math.nan if values.isna().any() or values.empty else float(values.mean())

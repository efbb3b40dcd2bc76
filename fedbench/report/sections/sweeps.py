"""The sweep sections, for a grid that runs an algorithm at several values of one setting at a
straggler rate (``fedbench.analysis.sweeps``): the proximal weight μ (the FL course's
exercise), or one of an algorithm's own params such as the server learning rate (the tuning
grid). One page per swept setting: last-10 accuracy against the value with seed bands, beside
the baseline at the same straggler rate; the best value of every line; and per value the paired
difference to the baseline. With a partitions axis every partition is a line of its own (a row
of panels, a "Partition" column), compared only with the baseline on the same partition."""

from __future__ import annotations

import math

import pandas as pd

from fedbench.algorithms import baseline
from fedbench.algorithms import registry as algorithms
from fedbench.analysis.summary import LAST_K
from fedbench.analysis.sweeps import MU, Sweep, best_values, find_sweeps, sweep_cells
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns, pm, rate
from fedbench.report.sections import GridReport, Section

# every sweep page's title reads "<setting> sweep: last-10 accuracy against <setting>"
HEADING = "sweep"


def _name(param: str) -> str:
    return "μ" if param == MU else param


def _partition_column(summary: pd.DataFrame) -> list[str]:
    return ["Partition"] if figures.has_partitions(summary) else []


def sweep_rows(report: GridReport, param: str = MU) -> tuple[list[str], list[list[str]]]:
    """(header, rows): per swept line and value the seeds, last-10 accuracy and the paired
    difference to the baseline at the same straggler rate (and partition)."""
    summary = figures.with_partition(report.summary)
    many = summary["protocol"].nunique() > 1
    partitioned = figures.has_partitions(summary)
    header = (["Protocol"] if many else []) + _partition_column(summary) + [
        "Stragglers", "Variant", _name(param), "Seeds ok", f"Last-{LAST_K} acc.",
        f"Δ vs {baseline().docs.title}", "95% CI"]
    rows = []
    for sweep in _sweeps(report, param):
        cells = figures.sort_by_partition(sweep_cells(summary, sweep))
        for r in cells.itertuples(index=False):
            ci = ("—" if not math.isfinite(r.paired_ci_low) else
                  f"[{r.paired_ci_low:+.3f}, {r.paired_ci_high:+.3f}]")
            diff = r.paired_diff_last10_mean
            rows.append(([r.protocol] if many else [])
                        + ([figures.partition_short(str(r.partition))] if partitioned else []) + [
                rate(sweep.stragglers), algorithms()[sweep.algorithm].docs.title, f"{r.value:g}",
                f"{int(r.n_ok)}/{int(r.n_seeds)}", pm(r.last10_acc_mean, r.last10_acc_std, 3),
                "—" if not math.isfinite(diff) else f"{diff:+.3f}", ci])
    return header, rows


def _best_values(summary: pd.DataFrame, sweeps: list[Sweep]) -> pd.DataFrame:
    """``best_values`` of each partition apart (a ``partition`` column; "" for none)."""
    parts = [best_values(summary[summary["partition"] == partition], sweeps)
             .assign(partition=partition) for partition in figures.partitions_in(summary)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def best_rows(report: GridReport, param: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows): per swept line its best value at each straggler rate and, with several
    rates, the value with the best last-10 accuracy averaged over them (per partition)."""
    summary = figures.with_partition(report.summary)
    best = _best_values(summary, _sweeps(report, param))
    many = summary["protocol"].nunique() > 1
    partitioned = figures.has_partitions(summary)
    levels = sorted({float(s) for s in best["stragglers"] if math.isfinite(s)})
    overall = bool(best["stragglers"].isna().any())
    header = ((["Protocol"] if many else []) + _partition_column(summary) + ["Variant"]
              + [f"best at {rate(s)}" for s in levels]
              + (["best over all rates (mean acc.)"] if overall else []))
    rows = []
    for (partition, protocol, algorithm, _p, fixed), line in best.groupby(
            ["partition", "protocol", "algorithm", "param", "fixed"], sort=False):
        title = algorithms()[algorithm].docs.title
        if len({f for a, f in zip(best["algorithm"], best["fixed"], strict=True)
                if a == algorithm}) > 1:
            title += f" ({', '.join(f'{_name(k)}={v:g}' for k, v in fixed)})"
        cells = []
        for sf in levels:
            at = line[line["stragglers"] == sf]
            cells.append("—" if at.empty else
                         f"{at['value'].iloc[0]:g} ({at['last10_acc'].iloc[0]:.3f})")
        if overall:
            at = line[line["stragglers"].isna()]
            cells.append("—" if at.empty else
                         f"{at['value'].iloc[0]:g} ({at['last10_acc'].iloc[0]:.3f})")
        rows.append(([protocol] if many else [])
                    + ([figures.partition_short(str(partition))] if partitioned else [])
                    + [title, *cells])
    return header, rows


def _sweeps(report: GridReport, param: str) -> list[Sweep]:
    return [s for s in find_sweeps(figures.summary_cells(report.summary)) if s.param == param]


def _add_one(doc: Document, report: GridReport, param: str) -> None:
    name = _name(param)
    figure = figures.sweep_figure_name(param)
    doc.new_page()
    doc.heading(f"{name} {HEADING}: last-{LAST_K} accuracy against {name}", keep_with=4.5)
    described = figures.setting_description(param, _sweeps(report, param))
    what = ("the proximal weight μ" if param == MU else
            f"{name} ({described})" if described else name)
    text = (f"The grid varies {what} at a fixed straggler rate, the other settings equal. Per "
            f"value: the last-{LAST_K} test accuracy, mean over seeds (line) with a ±1 standard "
            "deviation band and every seed as a dot; a ring marks each line's best value "
            f"(highest mean). The dashed line and its band are {baseline().docs.title} at the "
            f"same straggler rate, which has no {name}.")
    if param == MU:
        text += (" μ = 0 keeps the stragglers' partial work without the proximal term; the axis "
                 "is logarithmic above the smallest μ > 0 and linear below it, so μ = 0 is "
                 "shown.")
    else:
        text += " The axis is logarithmic."
    doc.paragraph(f"{text} (figures/{figure}.pdf)", size=8.5)
    labels = figures.sweep_legend_labels(report.summary, param)
    legend_h = 0.12 + 0.2 * math.ceil(len(labels) / figures.legend_columns(labels, most=3))
    # a row of panels per protocol; partitions add rows of their own
    extra_rows = (len(figures.panels_in(report.summary))
                  - report.summary["protocol"].nunique())
    doc.plot(lambda fig, anchor: figures.draw_sweep(fig, report.rounds, report.summary, param,
                                                    anchor),
             height=min(4.0 + 2.6 * extra_rows, 9.0) + legend_h, legend_h=legend_h)
    header, rows = best_rows(report, param)
    if rows:
        doc.paragraph(f"Best value of each line: the {name} with the highest mean last-{LAST_K} "
                      "accuracy at each straggler rate, and the one whose accuracy averaged "
                      "over the rates is highest (the choice of a tuning grid); its accuracy in "
                      "brackets.", size=8.5)
        n_left = sum(t in ("Protocol", "Partition", "Variant") for t in header)
        align = ["left"] * n_left + ["right"] * (len(header) - n_left)
        doc.table(columns(header, rows, 8, align), rows, size=8)
    header, rows = sweep_rows(report, param)
    align = ["left"] * (len(header) - 5) + ["right"] * 5
    doc.table(columns(header, rows, 8, align), rows, size=8)
    doc.paragraph(f"Δ: minus {baseline().docs.title} at the same straggler rate, paired by "
                  "seed, with its 95 % Student t interval (as in “Paired comparison”).",
                  size=8, color=MUTED)


def add(doc: Document, report: GridReport) -> None:
    found = find_sweeps(figures.summary_cells(report.summary))
    for param in figures.swept_params(found):
        _add_one(doc, report, param)


SECTION = Section(HEADING, add, conditional=True)

"""The FedProx paper's comparison: last-10 accuracy of the baseline (FedAvg) and of each
proximal algorithm (FedProx) at μ = 0 and μ > 0 per dataset and straggler rate, and the
paper's published claim (``docs.claims`` of the protocols present) beside fedbench's value."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from fedbench.algorithms import baseline, registry, sort_key
from fedbench.analysis.summary import LAST_K
from fedbench.protocols import registry as protocols
from fedbench.protocols.base import PublishedClaim
from fedbench.report.layout import MUTED, Column, Document, columns, pm, rate
from fedbench.report.sections import GridReport, Section, federated_protocols

if TYPE_CHECKING:
    from fedbench.algorithms.base import Algorithm

HEADING = "FedProx paper"


def _proximal() -> list[Algorithm]:
    """The algorithms with a proximal weight μ (FedProx), in legend order."""
    return sorted((a for a in registry().values() if a.uses_mu and not a.baseline),
                  key=lambda a: sort_key(a.name, 0.0))


def _acc(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "—"
    r = frame.iloc[0]
    return pm(r["last10_acc_mean"], r["last10_acc_std"], 3)


Differences = dict[tuple[str, str, float], float]  # (algorithm, protocol, stragglers) -> Δ


def paper_comparison_rows(summary_df: pd.DataFrame
                          ) -> tuple[list[str], list[list[str]], Differences]:
    """The table (header, rows): per federated protocol and straggler rate the last-10
    accuracy of the baseline, of each proximal algorithm at μ=0 and at its largest μ>0, and
    the paired difference μ>0 − baseline with its 95 % t interval. Also the differences
    themselves, keyed by (algorithm, protocol, stragglers), for the claims."""
    reference = baseline()
    proximal = _proximal()
    header = ["Dataset", "Stragglers", reference.docs.title]
    for algorithm in proximal:
        title = algorithm.docs.title
        delta = "μ>0" if len(proximal) == 1 else f"{title} μ>0"
        header += [f"{title} μ=0", f"{title} μ>0", f"Δ ({delta} − {reference.docs.title})",
                   "95% CI"]
    rows: list[list[str]] = []
    diffs: Differences = {}
    for protocol in federated_protocols(summary_df):
        mine = summary_df[summary_df["protocol"] == protocol]
        for sf in sorted(mine["stragglers"].unique()):
            cell = mine[mine["stragglers"] == sf]
            row = [protocol, rate(sf), _acc(cell[cell["algorithm"] == reference.name])]
            for algorithm in proximal:
                ours = cell[cell["algorithm"] == algorithm.name]
                at_zero = ours[ours["mu"] == 0]
                largest = ours[ours["mu"] > 0].sort_values("mu").tail(1)
                diff, ci = math.nan, "—"
                if not largest.empty:
                    r = largest.iloc[0]
                    diff = float(r["paired_diff_last10_mean"])
                    if math.isfinite(r["paired_ci_low"]):
                        ci = f"[{r['paired_ci_low']:+.3f}, {r['paired_ci_high']:+.3f}]"
                    variant = str(r["variant"])
                    row += [_acc(at_zero), f"{_acc(largest)} ({variant.split()[-1]})"]
                else:
                    row += [_acc(at_zero), "—"]
                if math.isfinite(diff):
                    diffs[(algorithm.name, protocol, float(sf))] = diff
                row += ["—" if not math.isfinite(diff) else f"{diff:+.3f}", ci]
            rows.append(row)
    return header, rows, diffs


def _claims(summary_df: pd.DataFrame) -> list[PublishedClaim]:
    """The published claims of the protocols present, each once (protocols share them)."""
    found = protocols()
    claims = [c for p in sorted(summary_df["protocol"].unique()) if p in found
              for c in found[p].docs.claims]
    return list(dict.fromkeys(claims))


def claim_rows(claim: PublishedClaim, diffs: Differences,
               present: list[str]) -> list[list[str]]:
    """The published value, then fedbench's mean difference at the claim's straggler rate
    over the claim's protocols ``present`` (per proximal algorithm when there are several)."""
    proximal = _proximal()
    rows = [[f"Published (average over the paper's five datasets, "
             f"{claim.stragglers * 100:g} % stragglers)",
             f"{claim.value:+.2f} ({claim.value * 100:+.0f} %)"]]
    for algorithm in proximal:
        at_claim = [d for (a, p, sf), d in diffs.items()
                    if a == algorithm.name and p in present and abs(sf - claim.stragglers) < 1e-9]
        mean = sum(at_claim) / len(at_claim) if at_claim else math.nan
        ours = "—" if not math.isfinite(mean) else f"{mean:+.3f} ({mean:+.1%})"
        which = "" if len(proximal) == 1 else f" {algorithm.docs.title}"
        rows.append([f"fedbench{which} (average Δ at {claim.stragglers:.0%} over "
                     f"{', '.join(present) or '—'})", ours])
    return rows


def add(doc: Document, report: GridReport) -> None:
    summary = report.summary
    if not federated_protocols(summary):
        return
    header, rows, diffs = paper_comparison_rows(summary)
    doc.new_page()
    doc.heading(f"{HEADING}: final accuracy and the published claim",
                keep_with=min(1.5 + 0.2 * len(rows), 8.0))
    doc.paragraph(
        f"Last-{LAST_K} test accuracy (mean ± std over seeds) per dataset and straggler rate; "
        f"Δ is {' / '.join(a.docs.title for a in _proximal())} μ>0 minus "
        f"{baseline().docs.title}, paired by seed, with its 95 % t interval.", size=8.5)
    align = ["left", "left"] + ["right"] * (len(header) - 2)
    doc.table(columns(header, rows, 8, align), rows, size=8)
    for claim in _claims(summary):
        present = sorted({r[0] for r in rows if r[0] in claim.protocols})
        doc.table([Column("", 0.55), Column("", 0.45, "right")],
                  claim_rows(claim, diffs, present), header=False, size=8.5)
        doc.paragraph(f"Source: {claim.source}. The paper's average includes FEMNIST, Sent140 "
                      "and Shakespeare, which fedbench does not run: the comparison is "
                      "indicative.", size=8, color=MUTED)


SECTION = Section(HEADING, add, conditional=True)

"""The "Known differences" section: where fedbench's runs differ from the published protocol
(from each protocol's docs) and from the published numbers' conditions (rounds, seeds,
learning rates, runs that diverged or stopped early), so a gap is read with its reasons."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fedbench.analysis.targets import DIVERGED_MARK, FAILED_MARK
from fedbench.protocols import registry
from fedbench.report.layout import Document, join
from fedbench.report.sections import GridReport, Section, TargetsReport

HEADING = "Known differences"


def _add(doc: Document, items: list[str]) -> None:
    doc.heading(HEADING, keep_with=1.0)
    for item in items:
        doc.paragraph(item, bullet=True, size=8.5)


def grid_items(prov: dict[str, Any], summary_df: pd.DataFrame) -> list[str]:
    items: list[str] = []
    found = registry()
    for protocol in sorted(summary_df["protocol"].unique()):
        if protocol in found:
            items += found[protocol].docs.known_differences
    rounds = sorted({int(r) for r in summary_df["rounds"]})
    if rounds != [100]:
        items.append(f"Rounds. This report ran {join(rounds)} rounds; the published values are "
                     "read at round 100, so they are a reference for shape, not a target.")
    n_div = int(prov.get("n_diverged", 0))
    if n_div:
        items.append(f"Diverged runs. {n_div} run(s) stopped on a non-finite loss or weights; "
                     "they are counted in the tables and left out of every mean, band and pair.")
    items += failed_items(prov.get("runs", []))
    return items


def failed_items(runs: list[dict[str, Any]], mark: str = "") -> list[str]:
    """One item on the failed runs (no update applied, or most client calls failed), with the
    reason of each (at most five named); none when no run failed."""
    failed = [r for r in runs if r.get("status") == "failed"]
    if not failed:
        return []
    named = "; ".join(f"{r.get('run_dir', '?')}: {r.get('failure_reason') or 'no reason given'}"
                      for r in failed[:5]) + ("; ..." if len(failed) > 5 else "")
    return [f"Failed runs{f' (“{mark}”)' if mark else ''}. {len(failed)} run(s) learned nothing "
            "that can be credited to the algorithm (no update was ever applied, or more than "
            "half of all client calls failed): they are counted with the diverged runs "
            "(n_diverged; Seeds ok) and left out of every mean, band and pair. " + named + "."]


def targets_items(runs_df: pd.DataFrame, table: pd.DataFrame,
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
    items += failed_items(prov.get("runs", []), FAILED_MARK)
    return items


def add_grid(doc: Document, report: GridReport) -> None:
    _add(doc, grid_items(report.prov, report.summary))


def add_targets(doc: Document, report: TargetsReport) -> None:
    _add(doc, targets_items(report.runs, report.table, report.prov))


GRID = Section(HEADING, add_grid)
TARGETS = Section(HEADING, add_targets)

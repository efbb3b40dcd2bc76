"""The "Setup" section: what was run (protocols, federation, training, seeds, the grid), and
where the runs differ from the experiment config given to the report (in red), so a
missing cell or a changed setting is seen before any number is read.

Each setting is named with the papers' (and the FL course's) symbol and the config key that
sets it (``NOTATION``; the README's notation table is the same, ``tests/test_notation.py``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fedbench.algorithms import label
from fedbench.analysis.targets import batch_order, target_of
from fedbench.config import FULL_BATCH, ExperimentConfig
from fedbench.report.figures import (
    batch_text,
    partition_label,
    partition_short,
    partitions_in,
)
from fedbench.report.layout import MUTED, WARNING, Column, Document, join, rate
from fedbench.report.sections import (
    GridReport,
    Section,
    TargetsReport,
    protocol_descriptions,
    protocol_with_title,
)

HEADING = "Setup"


@dataclass(frozen=True)
class Symbol:
    symbol: str
    meaning: str
    key: str  # the config key that sets it


# The papers' and the course's symbols, with the config keys that set them.
NOTATION = (
    Symbol("K", "clients (devices) in the federation", "federation.num_clients"),
    Symbol("C", "fraction of the K clients trained each round (C·K of them)",
           "federation.clients_per_round"),
    Symbol("R", "communication rounds", "federation.rounds"),
    Symbol("E", "local epochs per round", "training.local_epochs"),
    Symbol("B", "local batch size; B = ∞ is a client's whole data", "training.batch_size"),
    Symbol("η", "learning rate of local SGD", "training.lr"),
    Symbol("μ", "proximal weight, (μ/2)·‖w − w_global‖² added to the local loss",
           "grid.variants[].mu"),
    Symbol("γ", "straggler fraction: the share of a round's clients that train only 1 to "
           "E−1 epochs", "grid.stragglers"),
)
_KEY = {s.symbol: s.key for s in NOTATION}
# the config key of each setup row (by its label); rows without one are derived
CONFIG_KEYS = {
    "protocol": "protocol", "protocols": "grid.protocols",
    "clients (K)": _KEY["K"], "clients per round (C)": _KEY["C"], "rounds (R)": _KEY["R"],
    "rounds cap (R)": _KEY["R"], "local epochs (E)": _KEY["E"], "batch size (B)": _KEY["B"],
    "learning rate (η)": _KEY["η"], "straggler rates (γ)": _KEY["γ"],
    "variants (algorithm, μ)": "grid.variants", "algorithm": "grid.variants",
    "weight decay": "training.weight_decay", "model": "training.model",
    "models (target)": "training.model", "settings (model, E, B, η)": "grid.settings",
    "seeds": "grid.seeds", "stop at target": "federation.stop_at_target",
    "partitions": "grid.partitions",
}


# the short form under the setup table (the README's table has the meanings in full)
SHORT = {"K": "clients", "C": "fraction of them trained per round", "R": "rounds",
         "E": "local epochs", "B": "local batch (∞: all of a client's data)",
         "η": "learning rate", "μ": "proximal weight", "γ": "straggler fraction"}


def notation_text() -> str:
    return ("Symbols as in the papers: " + ", ".join(f"{s.symbol} {SHORT[s.symbol]}"
                                                     for s in NOTATION) + ".")


def _block(doc: Document, rows: list[list[str]], notes: list[str],
           protocols: list[str]) -> None:
    doc.heading(HEADING)
    table = [[label, CONFIG_KEYS.get(label, "—"), value] for label, value in rows]
    doc.table([Column("Setting (symbol)", 0.25), Column("Config key", 0.3),
               Column("Value", 0.45)], table, size=8.5)
    for note in notes:
        doc.paragraph(note, bullet=True, color=WARNING)
    doc.paragraph(notation_text(), size=8, color=MUTED)
    protocol_descriptions(doc, protocols)


# --------------------------------------------------------------------------- the grid report


def grid_rows(prov: dict[str, Any], summary_df: pd.DataFrame) -> list[list[str]]:
    setup = prov.get("setup", {})

    def one(key: str) -> str:
        return join([f"{v:g}" if isinstance(v, float) else v for v in setup.get(key, [])])

    seeds = prov.get("seeds", [])
    variants = prov.get("variants", [])
    stragglers = prov.get("stragglers", [])
    clients, per_round = setup.get("num_clients", []), setup.get("clients_per_round", [])
    fraction = (f" (C = {per_round[0] / clients[0]:g})"
                if len(clients) == 1 and len(per_round) == 1 else "")
    labels = [p for p in partitions_in(summary_df) if p]  # the grid's partitions axis
    n_partitions = len(labels) or 1
    by_partitions = f"{len(labels)} partitions × " if labels else ""
    return [
        ["protocol", join([protocol_with_title(p) for p in setup.get("protocol", [])])],
        ["clients (K)", one("num_clients")],
        ["clients per round (C)", one("clients_per_round") + fraction],
        ["rounds (R)", one("rounds")],
        ["local epochs (E)", one("local_epochs")],
        ["batch size (B)", join(["∞ (full local batch)" if v == FULL_BATCH else str(v)
                                 for v in setup.get("batch_size", [])])],
        ["learning rate (η)", one("lr")],
        ["weight decay", one("weight_decay")],
        ["model", one("model")],
        ["seeds", f"{join(seeds)} ({len(seeds)})"],
        ["straggler rates (γ)", join([rate(s) for s in stragglers])],
        ["variants (algorithm, μ)", join(variants)],
        *partition_rows(summary_df),
        ["grid", f"{by_partitions}{len(variants)} variants × {len(stragglers)} straggler rates "
                 f"× {len(seeds)} seeds = "
                 f"{n_partitions * len(variants) * len(stragglers) * len(seeds)} runs "
                 f"({prov.get('n_runs', 0)} found, in {len(summary_df)} cells)"],
    ]


def partition_rows(summary_df: pd.DataFrame) -> list[list[str]]:
    """The "partitions" row of a grid with a partitions axis ("#C=1 (labels-k1), ..."); none
    for a grid that splits the data as its protocol does."""
    found = [p for p in partitions_in(summary_df) if p]
    if not found:
        return []
    return [["partitions", join([f"{partition_short(p)} ({p})" for p in found])]]


def config_notes(prov: dict[str, Any], config: ExperimentConfig | None) -> list[str]:
    """Where the runs differ from the config given to the report (missing cells, settings)."""
    if config is None:
        return []
    notes = []
    setup = prov.get("setup", {})
    expected = {"protocol": config.protocols(),
                "num_clients": config.federation.num_clients,
                "clients_per_round": config.federation.clients_per_round,
                "rounds": config.federation.rounds, "model": config.training.model,
                "local_epochs": config.training.local_epochs,
                "batch_size": config.training.batch_size,
                "lr": config.training.lr,
                "weight_decay": config.training.weight_decay}
    for key, value in expected.items():
        seen = setup.get(key)
        if seen is not None and seen != (value if isinstance(value, list) else [value]):
            notes.append(f"The config says {key} = {value}, the runs used {join(seen)}.")
    if config.grid is not None:
        want = {(label(v.algorithm, v.mu, v.params), float(s), int(seed))
                for v in config.grid.variants for s in config.grid.stragglers
                for seed in config.grid.seeds}
        have = {(r["variant"], float(r["stragglers"]), int(r["seed"]))
                for r in prov.get("runs", [])}
        missing = sorted(want - have)
        extra = sorted(have - want)
        if missing:
            shown = "; ".join(f"{v}, {rate(s)}, seed {k}" for v, s, k in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            notes.append(f"{len(missing)} of the config's {len(want)} grid runs are missing "
                         f"from this report: {shown}{more}.")
        if extra:
            notes.append(f"{len(extra)} runs are not in the config's grid.")
    return notes


def add_grid(doc: Document, report: GridReport) -> None:
    _block(doc, grid_rows(report.prov, report.summary), config_notes(report.prov, report.config),
           sorted(report.summary["protocol"].unique()))


# --------------------------------------------------------------------------- rounds to target


def _settings_text(table: pd.DataFrame) -> str:
    """Per model: the E, B and lr values and how many (E, B, lr) settings (table rows list
    them one by one)."""
    def braces(values: Iterable[Any]) -> str:
        return "{" + ", ".join(str(v) for v in values) + "}"

    parts = []
    for model, mine in table.groupby("model", sort=True):
        n = len(mine.drop_duplicates(["local_epochs", "batch_size", "lr"]))
        epochs = sorted({int(e) for e in mine["local_epochs"]})
        batches = sorted({int(b) for b in mine["batch_size"]}, key=batch_order)
        lrs = sorted({float(v) for v in mine["lr"]})
        parts.append(f"{model.upper()}: E ∈ {braces(epochs)}, "
                     f"B ∈ {braces(batch_text(b) for b in batches)}, "
                     f"lr ∈ {braces(f'{v:g}' for v in lrs)} ({n} setting{'s' * (n != 1)})")
    return "; ".join(parts)


def _stop_text(runs_df: pd.DataFrame) -> str:
    configured = int(runs_df["stop_at_target"].sum())
    stopped = int(runs_df["stopped_at_target"].notna().sum())
    n = len(runs_df)
    if configured == 0:
        return "no: every run ran its R rounds (federation.stop_at_target off)"
    which = "yes" if configured == n else f"in {configured} of {n} runs"
    return (f"{which} (federation.stop_at_target): a run ends at the first round at or above "
            f"its target; {stopped} of {n} runs stopped there")


def _models_text(runs_df: pd.DataFrame) -> str:
    """Each model with its target accuracy (the same in every protocol that has one)."""
    texts = []
    for model in sorted(runs_df["model"].unique()):
        targets = [target_of(p, model) for p in sorted(runs_df["protocol"].unique())]
        known = [t for t in targets if math.isfinite(t)]
        texts.append(f"{model.upper()} ({known[0]:.0%})" if known else f"{model} (no target)")
    return join(texts)


def targets_rows(prov: dict[str, Any], runs_df: pd.DataFrame,
                 table: pd.DataFrame) -> list[list[str]]:
    setup = prov.get("setup", {})
    protocols = sorted(runs_df["protocol"].unique())
    clients = setup.get("num_clients", [])
    per_round = setup.get("clients_per_round", [])
    fraction = (f" (C = {per_round[0] / clients[0]:g})"
                if len(clients) == 1 and len(per_round) == 1 else "")
    seeds = sorted(int(s) for s in runs_df["seed"].unique())
    caps = sorted(int(r) for r in runs_df["rounds"].unique())
    n_settings = len(table)
    n_expected = n_settings * len(seeds)
    return [
        ["protocols", join([protocol_with_title(p) for p in protocols])],
        ["clients (K)", join(clients)],
        ["clients per round (C)", join(per_round) + fraction],
        ["models (target)", _models_text(runs_df)],
        ["settings (model, E, B, η)", _settings_text(table)],
        ["weight decay", join([f"{v:g}" for v in setup.get("weight_decay", [])])],
        ["seeds", f"{join(seeds)} ({len(seeds)})"],
        ["rounds cap (R)", join(caps)],
        ["stop at target", _stop_text(runs_df)],
        ["algorithm", f"{join(prov.get('variants', []))} (plain SGD on the clients, no "
                      "stragglers), global model evaluated centrally after every round"],
        ["grid", f"{n_settings} (partition, setting) rows × {len(seeds)} seed(s) = "
                 f"{n_expected} runs ({len(runs_df)} found)"],
    ]


def target_config_notes(runs_df: pd.DataFrame, config: ExperimentConfig | None) -> list[str]:
    """Runs the config's grid has and the run directories do not (or the other way)."""
    if config is None or config.grid is None or not config.settings():
        return []
    want = set()
    for protocol in config.protocols():
        for training in config.settings().values():
            for seed in config.grid.seeds:
                want.add((protocol, training.model, int(training.local_epochs),
                          int(training.batch_size), float(training.lr), int(seed)))
    have = {(r.protocol, r.model, int(r.local_epochs), int(r.batch_size), float(r.lr),
             int(r.seed)) for r in runs_df.itertuples(index=False)}
    notes = []
    missing = sorted(want - have, key=lambda r: (*r[:3], batch_order(r[3]), *r[4:]))
    if missing:
        shown = "; ".join(f"{partition_label(p)} {m.upper()} E={e} B={batch_text(b)} lr {lr:g} "
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


def add_targets(doc: Document, report: TargetsReport) -> None:
    _block(doc, targets_rows(report.prov, report.runs, report.table),
           target_config_notes(report.runs, report.config),
           sorted(report.runs["protocol"].unique()))


GRID = Section(HEADING, add_grid)
TARGETS = Section(HEADING, add_targets)

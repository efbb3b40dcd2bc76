"""The "Heterogeneity" section, for a grid with a partitions axis (``grid.partitions``: #C = k,
p ~ Dir(β), q ~ Dir(β), x ~ Gau(σ), IID): how accuracy changes with the split of the data.

- When the partitions sweep the Dirichlet concentration β (three values or more, with IID as
  β = ∞ where the grid has it): last-10 accuracy against β per variant
  (``figures.draw_beta_sweep``, figures/beta_sweep.{png,pdf}) and its numbers as a table.
- Per protocol, NIID-Bench's table layout (Li et al., ICDE 2022, Table III): a row per
  partition, a column per variant; fedbench's final-round and best-round accuracy, and beside
  them the protocol's reference values (``docs.reference``, e.g. Flower's reproduction) and
  published values (``docs.published``) of the same partition and algorithm.

Every number comes from summary.csv (``fedbench.analysis.summary``) or the protocol's docs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from fedbench.analysis.summary import LAST_K
from fedbench.data import partitions as partition_registry
from fedbench.protocols import registry
from fedbench.protocols.base import ProtocolDocs, PublishedValue
from fedbench.report import figures
from fedbench.report.layout import MUTED, Document, columns, join, rate
from fedbench.report.sections import GridReport, Section

HEADING = "Heterogeneity"
# the most variant columns of one NIID-Bench table (more variants: tables of as many columns
# each, one under the other)
NIID_COLUMNS = 4
DAGGER = "†"
BETA_PLOT = 4.2  # inches of the β sweep's panels on the page


def pct(mean: float, std: float, digits: int = 2) -> str:
    """"98.89 ± 0.07" (a fraction in %); the mean alone when one seed leaves no spread."""
    if mean is None or not math.isfinite(mean):
        return "—"
    if std is None or not math.isfinite(std):
        return f"{100 * mean:.{digits}f}"
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f}"


def value_pct(value: PublishedValue, digits: int = 2) -> str:
    """A published or reference value in %: "98.89 ± 0.07" (a table's mean ± std), "≈86"
    or "≈78–85" (read off a figure)."""
    if value.spread is not None:
        return f"{100 * value.low:.{digits}f} ± {100 * value.spread:.{digits}f}"
    if value.low == value.high:
        return f"≈{100 * value.low:.{digits}f}"
    return f"≈{100 * value.low:.{digits}f}–{100 * value.high:.{digits}f}"


def metric_words(metric: str, rounds: int) -> str:
    """What a published value measures: "the best round's test accuracy (over 50 rounds)"."""
    if metric.startswith("best"):
        return f"the best round's test accuracy (over {rounds} rounds)"
    return f"the test accuracy at round {rounds}"


def _docs(protocol: str) -> ProtocolDocs | None:
    found = registry().get(protocol)
    return found.docs if found is not None else None


def value_for(values: Sequence[PublishedValue], partition: str, algorithm: str,
              mu: float) -> tuple[PublishedValue | None, bool]:
    """The value of ``values`` for a partition and algorithm, and whether it is the variant's
    own: the one at the variant's μ, else the algorithm's only value (a source that does not
    say which μ it ran, as Flower's FedProx column) — then False, and the table marks it."""
    found = [v for v in values if v.partition == partition and v.algorithm == algorithm]
    exact = [v for v in found if abs(v.mu - mu) < 1e-9]
    if exact:
        return exact[0], True
    return (found[0], False) if len(found) == 1 else (None, True)


def has_partition_values(values: Sequence[PublishedValue],
                         partitions: Sequence[str] | None = None) -> bool:
    """Whether ``values`` has a value for a partition (of ``partitions``, when given)."""
    return any(v.partition and (partitions is None or v.partition in partitions)
               for v in values)


def _grid_partitions(summary: pd.DataFrame, protocol: str) -> list[str]:
    mine = figures.with_partition(summary)
    return [p for p in figures.partitions_in(mine[mine["protocol"] == protocol]) if p]


# --------------------------------------------------------------------------- partitions


def partition_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(header, rows): every partition of the grid, its label (the results directory) and
    what kind of split it is."""
    rows = []
    for label in (p for p in figures.partitions_in(summary) if p):
        try:
            found, _params = partition_registry.parse(label)
            kind = found.docs.title
        except ValueError:
            kind = "no longer registered"
        rows.append([figures.partition_short(label), label, kind])
    return ["Partition", "Label (results/<name>/<label>/)", "Split"], rows


# --------------------------------------------------------------------------- β sweep


def beta_header(frame: pd.DataFrame) -> list[str]:
    betas = sorted({float(b) for b in frame["beta"] if math.isfinite(b)})
    iid = ["IID (β = ∞)"] if frame["beta"].astype(float).map(math.isinf).any() else []
    return [f"β = {b:g}" for b in betas] + iid


def beta_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the β sweep's numbers (``figures.beta_sweep_frame``): a row per
    variant (and protocol, straggler rate where the grid has several), a column per β, IID
    last; each cell the last-10 accuracy in %, mean ± std over the seeds that did not
    diverge, with their number where it is short of the most."""
    frame = figures.beta_sweep_frame(summary)
    panels = figures.beta_sweep_panels(frame)
    many_protocols = len({p for p, _s in panels}) > 1
    many_rates = len({s for _p, s in panels}) > 1
    betas = sorted({float(b) for b in frame["beta"]})
    most = int(frame["n_ok"].max()) if len(frame) else 0
    header = ((["Protocol"] if many_protocols else []) + (["Stragglers"] if many_rates else [])
              + ["Variant"] + beta_header(frame))
    rows = []
    for protocol, sf in panels:
        mine = frame[(frame["protocol"] == protocol) & (frame["stragglers"] == sf)]
        for variant, line in mine.groupby("variant", sort=False):
            cells = []
            for beta in betas:
                at = line[line["beta"] == beta]
                if at.empty:
                    cells.append("—")
                    continue
                row = at.iloc[0]
                if row["status"] in ("diverged", "failed"):
                    cells.append(f"all {row['status']}")
                    continue
                short = f" (n={int(row['n_ok'])})" if int(row["n_ok"]) < most else ""
                cells.append(pct(row["last10_acc_mean"], row["last10_acc_std"]) + short)
            rows.append(([protocol] if many_protocols else [])
                        + ([rate(sf)] if many_rates else []) + [str(variant), *cells])
    return header, rows


def _add_beta_sweep(doc: Document, summary: pd.DataFrame) -> None:
    frame = figures.beta_sweep_frame(summary)
    if frame.empty:
        return
    rounds = int(summary["rounds"].max())
    window = min(LAST_K, rounds)
    betas = join([f"{b:g}" for b in sorted({float(b) for b in frame["beta"]
                                            if math.isfinite(b)})])
    has_iid = bool(frame["beta"].astype(float).map(math.isinf).any())
    labels = figures.beta_sweep_legend_labels(summary)
    legend_h = figures.legend_height(labels, most=3)
    header, rows = beta_rows(summary)
    # the text, the figure and its table on one page: a fresh one when they do not fit here
    if doc.room() < 1.0 + BETA_PLOT + legend_h + 0.5 + 0.2 * len(rows):
        doc.new_page()
    doc.paragraph(
        f"Accuracy against β. The label split p ~ Dir(β) gives each client few labels at "
        f"small β and the global label mix as β grows (β → ∞ is IID). Per variant: the "
        f"last-{window} test accuracy at β ∈ {{{betas}}}, mean over "
        f"{figures.seeds_text(frame)} (line) with a ±1 standard deviation band"
        + (", and IID at the right end (∞: a hollow marker with its ±1 std bar, joined to "
           "the largest β by a faint dotted line; the axis is broken there)" if has_iid
           else "")
        + f". (figures/{figures.BETA_SWEEP_FIGURE}.pdf)", size=8.5)
    doc.plot(lambda fig, anchor: figures.draw_beta_sweep(fig, summary, anchor),
             height=BETA_PLOT + legend_h, legend_h=legend_h)
    n_left = len(header) - len(beta_header(frame))
    doc.table(columns(header, rows, 7.5, ["left"] * n_left + ["right"] * (len(header) - n_left),
                      wrap_titles=True, wrap=[n_left - 1]), rows, size=7.5)
    doc.paragraph(f"Last-{window} test accuracy in %, mean ± sample std over the seeds that "
                  "did not diverge; (n=…) where a cell has fewer seeds than the others.",
                  size=8, color=MUTED)


# --------------------------------------------------------------------------- NIID-Bench table


def niid_rows(summary: pd.DataFrame, protocol: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of one protocol's table in NIID-Bench's layout: a column per variant, and
    per partition (its heading, "#C=1") the rows of fedbench's final-round and best-round
    accuracy, then, where the protocol's docs have them, the reference's and the published
    values of that partition and algorithm (all in %; fedbench's as mean ± std over the
    seeds that did not diverge). A reference or published value that is its algorithm's but
    not at the variant's μ is marked † (see ``value_for``)."""
    mine = figures.with_partition(summary)
    mine = mine[mine["protocol"] == protocol]
    variants = figures.variants_in(mine)
    docs = _docs(protocol)
    reference = docs.reference if docs is not None else ()
    published = ([v for v in docs.published if v.partition] if docs is not None else [])
    rounds = sorted({int(r) for r in mine["rounds"]})
    r_text = str(rounds[0]) if len(rounds) == 1 else "R"
    most = int(mine["n_ok"].max()) if len(mine) else 0
    header = ["Partition", "Source", *[label for _a, _m, label in variants]]
    rows = []
    here = _grid_partitions(summary, protocol)
    for partition in here:
        cells = mine[mine["partition"] == partition]
        final, best = [], []
        for _a, _m, label in variants:
            at = cells[cells["variant"] == label]
            if at.empty:
                final.append("—")
                best.append("—")
                continue
            row = at.iloc[0]
            if row["status"] in ("diverged", "failed"):
                final.append(f"all {row['status']}")
                best.append(f"all {row['status']}")
                continue
            short = f" (n={int(row['n_ok'])})" if int(row["n_ok"]) < most else ""
            final.append(pct(row["final_acc_mean"], row["final_acc_std"]) + short)
            best.append(pct(row["best_acc_mean"], row["best_acc_std"]) + short)
        heading = figures.partition_short(partition)
        rows.append([heading, f"fedbench, final (R={r_text})", *final])
        rows.append(["", "fedbench, best round", *best])
        for name, values in (("reference", reference), ("published", published)):
            if not has_partition_values(values, here):  # none for this grid's partitions
                continue
            texts = []
            for a, m, _label in variants:
                value, own = value_for(values, partition, a, m)
                texts.append("—" if value is None else value_pct(value) + ("" if own else DAGGER))
            rows.append(["", f"{name} ({_metric_short(values)})", *texts])
    return header, rows


def _metric_short(values: Sequence[PublishedValue]) -> str:
    metrics = {v.metric for v in values}
    return "best round" if all(m.startswith("best") for m in metrics) else "final round"


def _column_chunks(header: list[str], rows: list[list[str]]) -> list[tuple[list[str],
                                                                           list[list[str]]]]:
    """The table cut into tables of at most NIID_COLUMNS variant columns, as even as they go
    (six variants: three and three), each with the partition and source columns (a page is
    6.7 inches wide)."""
    n = len(header) - 2
    width = math.ceil(n / max(1, math.ceil(n / NIID_COLUMNS)))
    chunks = []
    for start in range(0, max(n, 1), max(width, 1)):
        keep = [0, 1, *range(2 + start, 2 + min(n, start + width))]
        chunks.append(([header[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    return chunks


def sources_text(summary: pd.DataFrame, protocol: str) -> str:
    """What each source of a protocol's table reports, and where its values come from."""
    mine = summary[summary["protocol"] == protocol]
    rounds = sorted({int(r) for r in mine["rounds"]})
    r_text = join(rounds)
    docs = _docs(protocol)
    text = (f"fedbench: per seed the test accuracy at the last round (R = {r_text}) and at the "
            f"best of rounds 1 to R, then mean ± sample std over the seeds that did not "
            f"diverge (in %; (n=…) where a cell has fewer seeds).")
    if docs is None:
        return text + " The protocol is no longer registered: no reference or published value."
    if not has_partition_values(docs.reference) and not has_partition_values(docs.published):
        return text + f" {protocol} has no reference or published value for a partition."
    here = _grid_partitions(summary, protocol)
    if has_partition_values(docs.reference) and not has_partition_values(docs.reference, here):
        known = join(list(dict.fromkeys(figures.partition_short(v.partition)
                                        for v in docs.reference if v.partition)))
        text += (f" Reference ({docs.reference_source or docs.reference[0].source}): no value "
                 f"for these partitions (it has {known}).")
    elif has_partition_values(docs.reference):
        ref_rounds = sorted({v.round for v in docs.reference})
        metric = metric_words(docs.reference[0].metric, ref_rounds[0])
        text += (f" Reference: {metric}, mean ± std over the source's runs; source: "
                 f"{docs.reference_source or docs.reference[0].source}.")
        if rounds != ref_rounds:
            text += (f" The reference ran {join(ref_rounds)} rounds and this grid {r_text}: "
                     "its best round is over a different number of rounds.")
    published = [v for v in docs.published if v.partition]
    said = "the best round's" if docs.published_metric == "best" else "the final round's"
    if published:
        sources = "; ".join(dict.fromkeys(v.source for v in published))
        text += f" Published: {said} test accuracy; source: {sources}."
    else:
        text += (f" Published: no value per partition is transcribed for {protocol} (the "
                 f"publication reports {said} test accuracy; {docs.source}).")
    return text


def _add_niid_tables(doc: Document, summary: pd.DataFrame) -> None:
    for protocol in sorted(summary["protocol"].unique()):
        header, rows = niid_rows(summary, protocol)
        if not rows:
            continue
        doc.paragraph(f"Accuracy per partition, {protocol} (NIID-Bench's layout: a row per "
                      "partition, a column per variant; test accuracy in %).", size=8.5)
        for head, part in _column_chunks(header, rows):
            align = ["left", "left"] + ["right"] * (len(head) - 2)
            doc.table(columns(head, part, 7.5, align, wrap_titles=True), part, size=7.5)
        doc.paragraph(sources_text(summary, protocol), size=8, color=MUTED)
        if any(DAGGER in cell for row in rows for cell in row):
            doc.paragraph(f"{DAGGER} the source's value for the algorithm, which does not say "
                          "at which μ it ran (not necessarily this column's).", size=8,
                          color=MUTED)


# --------------------------------------------------------------------------- the section


def add(doc: Document, report: GridReport) -> None:
    summary = report.summary
    if not figures.has_partitions(summary):
        return
    doc.new_page()
    doc.heading(f"{HEADING}: accuracy across partitions", keep_with=3.0)
    header, rows = partition_rows(summary)
    doc.paragraph(
        f"The grid splits the training data over the clients in {len(rows)} way"
        f"{'s' * (len(rows) != 1)} (its partitions axis), every variant and seed on each, so "
        "a seed draws the same clients for every variant of a partition. Each partition's "
        "numbers stand apart in every section of this report; here they are set side by "
        "side.", size=8.5)
    _add_beta_sweep(doc, summary)
    doc.table(columns(header, rows, 8), rows, size=8)
    _add_niid_tables(doc, summary)


SECTION = Section(HEADING, add, conditional=True)

"""The replication report: one PDF with provenance, setup, figures and tables.

Built with matplotlib's ``PdfPages`` only — no TeX, no extra dependency — so
``make report`` works on a bare machine. Pages are A4 portrait and laid out
top-down by a small cursor (``_Document``): headings, wrapped paragraphs and
booktabs-style tables are placed in inches, and a figure takes the rest of its
page under matplotlib's constrained layout, so text never overlaps.

The report reads only what ``fedbench aggregate`` wrote (rounds.csv,
summary.csv, provenance.json) plus the experiment config, and adds no
timestamp of its own: the same inputs give the same pages.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from fedbench import plots
from fedbench.aggregate import LAST_K, load_reports, paired_table, variant_label
from fedbench.config import ExperimentConfig
from fedbench.protocols import get_protocol
from fedbench.published import (
    FEDPROX_PAPER_CLAIM,
    KNOWN_DIFFERENCES,
    PROTOCOL_TITLES,
    published_value,
)

SECTIONS = ("Provenance", "Setup", "Results", "Final accuracy", "Paired comparison",
            "Known differences")
PAGE_W, PAGE_H = 8.27, 11.69  # A4 portrait, inches
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 0.8, 0.75, 0.8
TEXT_W = PAGE_W - 2 * MARGIN_X
CELL_PAD = 0.07  # inches on each side of a table cell
INK, MUTED, RULE = "#1a1a1a", "#5a5a5a", "#333333"
REPORT_FILE = "report.pdf"


# --------------------------------------------------------------------------- layout


@dataclass
class _Column:
    title: str
    width: float  # fraction of the table width
    align: str = "left"


class _Document:
    """A4 pages filled top-down; a new page starts when the next block does not fit."""

    def __init__(self, pdf: PdfPages, footer: str) -> None:
        self.pdf = pdf
        self.footer = footer
        self.page_no = 0
        self.fig: Figure | None = None
        self.y = 0.0  # cursor, inches from the bottom of the page
        self.has_plot = False

    # -- pages
    def new_page(self) -> Figure:
        self.finish_page()
        self.page_no += 1
        self.fig = Figure(figsize=(PAGE_W, PAGE_H))
        self.y = PAGE_H - MARGIN_TOP
        self.has_plot = False
        self.fig.text(MARGIN_X / PAGE_W, 0.45 / PAGE_H, self.footer, fontsize=7.5, color=MUTED)
        self.fig.text(1 - MARGIN_X / PAGE_W, 0.45 / PAGE_H, f"page {self.page_no}",
                      fontsize=7.5, color=MUTED, ha="right")
        return self.fig

    def finish_page(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None

    def room(self) -> float:
        return self.y - MARGIN_BOTTOM

    def need(self, height: float) -> Figure:
        if self.fig is None or self.room() < height:
            return self.new_page()
        return self.fig

    def _text(self, y: float, text: str, **kw: Any) -> None:
        assert self.fig is not None
        x = kw.pop("x", MARGIN_X)
        self.fig.text(x / PAGE_W, y / PAGE_H, text, va="top", color=kw.pop("color", INK), **kw)

    # -- blocks
    def space(self, height: float) -> None:
        self.y -= height

    def title(self, text: str, subtitle: str, line: str) -> None:
        self.need(1.3)
        self._text(self.y, text, fontsize=22, fontweight="bold")
        self._text(self.y - 0.45, subtitle, fontsize=13)
        self._text(self.y - 0.75, line, fontsize=9.5, color=MUTED)
        self.y -= 1.15

    def heading(self, text: str, keep_with: float = 0.8) -> None:
        """A section title (literal PDF text); kept on the page with what follows."""
        self.need(0.45 + keep_with)
        self._text(self.y, text, fontsize=14, fontweight="bold")
        assert self.fig is not None
        y = (self.y - 0.3) / PAGE_H
        self.fig.add_artist(_rule(y, 0.6))
        self.y -= 0.42

    def paragraph(self, text: str, size: float = 9.0, bullet: bool = False,
                  color: str = INK) -> None:
        lines = _wrap_to(text, TEXT_W - (0.18 if bullet else 0.0), size)
        line_h = size * 1.45 / 72
        for i, line in enumerate(lines):
            self.need(line_h)
            if bullet and i == 0:
                self._text(self.y, "•", fontsize=size, color=color)
            indent = MARGIN_X + (0.18 if bullet else 0.0)
            self._text(self.y, line, fontsize=size, color=color, x=indent)
            self.y -= line_h
        self.y -= 0.08

    def table(self, columns: Sequence[_Column], rows: Sequence[Sequence[str]],
              size: float = 8.5, header: bool = True) -> None:
        """A booktabs-style table; long cells wrap inside their column, long tables
        continue on the next page under a repeated header."""
        line_h = size * 1.4 / 72
        pad = size * 0.5 / 72
        cells = [self._wrap(columns, row, size) for row in rows]
        heights = [max(len(c) for c in row) * line_h + pad for row in cells]
        head = self._wrap(columns, [c.title for c in columns], size, bold=True) if header else []
        head_h = max(len(c) for c in head) * line_h + pad if header else 0.0
        i = 0
        while True:
            fig = self.need(head_h + sum(heights[i:i + 3]) + 0.12)
            fig.add_artist(_rule(self.y / PAGE_H, 0.8))
            y = self.y - pad / 2
            if header:
                self._cells(y, columns, head, size, line_h, bold=True)
                y -= head_h
                fig.add_artist(_rule((y + pad / 3) / PAGE_H, 0.5))
            while i < len(cells) and y - heights[i] >= MARGIN_BOTTOM:
                self._cells(y, columns, cells[i], size, line_h)
                y -= heights[i]
                i += 1
            fig.add_artist(_rule((y + pad / 3) / PAGE_H, 0.8))
            self.y = y - 0.18
            if i >= len(cells):
                break
            self.new_page()

    @staticmethod
    def _wrap(columns: Sequence[_Column], values: Sequence[str], size: float,
              bold: bool = False) -> list[list[str]]:
        return [_wrap_to(str(value), column.width * TEXT_W - 2 * CELL_PAD, size, bold)
                for column, value in zip(columns, values, strict=True)]

    def _cells(self, y: float, columns: Sequence[_Column], values: Sequence[list[str]],
               size: float, line_h: float, bold: bool = False) -> None:
        x = MARGIN_X
        weight = "bold" if bold else "normal"
        for column, lines in zip(columns, values, strict=True):
            w = column.width * TEXT_W
            for k, line in enumerate(lines):
                if column.align == "right":
                    self._text(y - k * line_h, line, x=x + w - CELL_PAD, ha="right",
                               fontsize=size, fontweight=weight)
                else:
                    self._text(y - k * line_h, line, x=x + CELL_PAD, fontsize=size,
                               fontweight=weight)
            x += w

    def plot(self, draw: Callable[[Figure, tuple[float, float]], None],
             height: float | None = None, legend_h: float = 0.3) -> None:
        """Draw a figure into the next ``height`` inches (default: the rest of the page).

        Constrained layout arranges the axes inside that band only; the legend gets
        the top ``legend_h`` inches of it, so it can never overlap the text above.
        """
        if self.fig is None or self.has_plot or (height and self.room() < height):
            self.new_page()
        assert self.fig is not None
        height = min(height or self.room(), self.room())
        bottom = self.y - height
        rect = (MARGIN_X / PAGE_W - 0.01, bottom / PAGE_H, TEXT_W / PAGE_W + 0.02,
                (height - legend_h) / PAGE_H)
        self.fig.set_layout_engine(ConstrainedLayoutEngine(rect=rect, h_pad=0.04, w_pad=0.04))
        draw(self.fig, (0.5, self.y / PAGE_H))
        self.has_plot = True
        self.y = bottom - 0.1


def _rule(y: float, width: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([MARGIN_X / PAGE_W, 1 - MARGIN_X / PAGE_W], [y, y], linewidth=width,
                  color=RULE)


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Rendered width of ``text`` in inches (measured with the report's font, not guessed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=plots.RC["font.family"], size=size,
                          weight="bold" if bold else "normal")
    width, _h, _d = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def _wrap_to(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to ``width`` inches; a single over-long word stays whole."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and _text_width(candidate, size, bold) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def _columns(titles: Sequence[str], rows: Sequence[Sequence[str]], size: float,
             align: Sequence[str] | None = None, wrap_titles: bool = False) -> list[_Column]:
    """Columns as wide as their widest cell, spare width shared out evenly.

    When the natural widths exceed the text width, columns shrink in proportion
    and their cells wrap. With ``wrap_titles`` a title counts only with its longest
    word (it wraps over two lines rather than widen its column).
    """
    def title_width(title: str) -> float:
        words = title.split(" ") if wrap_titles else [title]
        return max(_text_width(w, size, bold=True) for w in words)

    natural = [max([title_width(t)] + [_text_width(r[i], size) for r in rows])
               + 2 * CELL_PAD for i, t in enumerate(titles)]
    total = sum(natural)
    if total <= TEXT_W:
        widths = [(w + (TEXT_W - total) / len(natural)) / TEXT_W for w in natural]
    else:
        widths = [w / total for w in natural]
    align = align or ["left"] * len(titles)
    return [_Column(t, w, a) for t, w, a in zip(titles, widths, align, strict=True)]


# --------------------------------------------------------------------------- content


def _fmt(value: float, digits: int = 4) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _pm(mean: float, std: float, digits: int = 4) -> str:
    """"mean ± std"; just the mean when one seed leaves the spread unknown."""
    if mean is None or not math.isfinite(mean):
        return "—"
    if std is None or not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _duration(seconds: float) -> str:
    h, rest = divmod(round(seconds), 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min {s:02d} s"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _join(values: Sequence[Any], empty: str = "unknown") -> str:
    return ", ".join(str(v) for v in values) if values else empty


def _rate(value: float) -> str:
    return f"{value:.0%}"


def experiment_digest(config: ExperimentConfig) -> str:
    """Short hash of the experiment config's numbers-defining settings (as RunConfig.digest)."""
    payload = config.model_dump(exclude={"runtime", "results_dir", "reports_dir"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _provenance_rows(prov: dict[str, Any], config: ExperimentConfig | None,
                     config_path: str | None) -> list[list[str]]:
    versions = prov.get("versions", {})
    n_runs, n_div = prov.get("n_runs", 0), prov.get("n_diverged", 0)
    digests = prov.get("config_digests", [])
    rows = [
        ["fedbench version", _join(versions.get("fedbench", []))],
        ["git commit", _join(prov.get("git_commits", []))],
        ["Flower (flwr)", _join(versions.get("flwr", []))],
        ["PyTorch", _join(versions.get("torch", []))],
        ["NumPy / Python", f"{_join(versions.get('numpy', []))} / "
                           f"{_join(versions.get('python', []))}"],
        ["backend", _join(prov.get("backends", []))],
    ]
    if config is not None:
        rows.append(["experiment config", f"{config_path or 'given'} "
                                          f"(digest {experiment_digest(config)})"])
    rows += [
        ["run config digests", (digests[0] if len(digests) == 1 else
                                f"{len(digests)} distinct, combined {prov.get('combined_digest')} "
                                "(per run: provenance.json)")],
        ["runs", f"{n_runs} ({n_div} diverged)"],
        ["runs started / finished", f"{prov.get('runs_started_at') or '?'} / "
                                    f"{prov.get('runs_finished_at') or '?'}"],
        ["aggregated (date)", str(prov.get("created_at", "?"))],
        ["total compute time", f"{_duration(float(prov.get('total_compute_seconds', 0.0)))} "
                               f"(sum of per-run wall time)"],
    ]
    return rows


def _setup_rows(prov: dict[str, Any], summary_df: pd.DataFrame) -> list[list[str]]:
    setup = prov.get("setup", {})

    def one(key: str) -> str:
        return _join([f"{v:g}" if isinstance(v, float) else v for v in setup.get(key, [])])

    protocols = setup.get("protocol", [])
    seeds = prov.get("seeds", [])
    variants = prov.get("variants", [])
    stragglers = prov.get("stragglers", [])
    protocol_text = _join([f"{p} ({PROTOCOL_TITLES[p]})" if p in PROTOCOL_TITLES else p
                           for p in protocols])
    return [
        ["protocol", protocol_text],
        ["clients", one("num_clients")],
        ["clients per round", one("clients_per_round")],
        ["rounds (R)", one("rounds")],
        ["local epochs (E)", one("local_epochs")],
        ["batch size (B)", _join(["∞ (full local batch)" if v == 0 else str(v)
                                  for v in setup.get("batch_size", [])])],
        ["learning rate", one("lr")],
        ["weight decay", one("weight_decay")],
        ["model", one("model")],
        ["seeds", f"{_join(seeds)} ({len(seeds)})"],
        ["straggler rates", _join([_rate(s) for s in stragglers])],
        ["variants", _join(variants)],
        ["grid", f"{len(variants)} variants × {len(stragglers)} straggler rates × "
                 f"{len(seeds)} seeds = {len(variants) * len(stragglers) * len(seeds)} runs "
                 f"({prov.get('n_runs', 0)} found, in {len(summary_df)} cells)"],
    ]


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
                "batch_size": config.training.batch_size or 0,  # 0: full batch, as in runs
                "lr": config.training.lr,
                "weight_decay": config.training.weight_decay}
    for key, value in expected.items():
        seen = setup.get(key)
        if seen is not None and seen != (value if isinstance(value, list) else [value]):
            notes.append(f"The config says {key} = {value}, the runs used {_join(seen)}.")
    if config.grid is not None:
        want = {(variant_label(v.algorithm, v.mu), float(s), int(seed))
                for v in config.grid.variants for s in config.grid.stragglers
                for seed in config.grid.seeds}
        have = {(r["variant"], float(r["stragglers"]), int(r["seed"]))
                for r in prov.get("runs", [])}
        missing = sorted(want - have)
        extra = sorted(have - want)
        if missing:
            shown = "; ".join(f"{v}, {_rate(s)}, seed {k}" for v, s, k in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            notes.append(f"{len(missing)} of the config's {len(want)} grid runs are missing "
                         f"from this report: {shown}{more}.")
        if extra:
            notes.append(f"{len(extra)} runs are not in the config's grid.")
    return notes


def final_accuracy_rows(summary_df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The final-accuracy table beside the published values (header, rows)."""
    many = summary_df["protocol"].nunique() > 1
    rounds = sorted({int(r) for r in summary_df["rounds"]})
    r_text = str(rounds[0]) if len(rounds) == 1 else "R"
    window = min(LAST_K, min(rounds))
    header = ["Stragglers", "Variant", "Seeds ok", f"Final acc. (R={r_text})",
              f"Last-{window} acc.", "Final loss", "Published*"]
    rows = []
    for row in summary_df.itertuples(index=False):
        published = published_value(row.protocol, row.algorithm, row.mu, row.stragglers)
        where = f"{row.protocol}, {_rate(row.stragglers)}" if many else _rate(row.stragglers)
        diverged = row.status == "diverged"
        rows.append([
            where, row.variant, f"{int(row.n_ok)}/{int(row.n_seeds)}",
            "all diverged" if diverged else _pm(row.final_acc_mean, row.final_acc_std),
            "all diverged" if diverged else _pm(row.last10_acc_mean, row.last10_acc_std),
            "—" if diverged else _pm(row.final_loss_mean, row.final_loss_std, 2),
            published.text() if published else "—",
        ])
    return header, rows


def _federated_protocols(summary_df: pd.DataFrame) -> list[str]:
    return [p for p in sorted(summary_df["protocol"].unique())
            if p in PROTOCOL_TITLES and get_protocol(p).evaluation == "federated"]


def paper_comparison_rows(summary_df: pd.DataFrame) -> tuple[list[str], list[list[str]], float]:
    """The FedProx paper's comparison: last-10 accuracy per dataset and straggler rate of
    FedAvg, FedProx μ=0 and FedProx μ>0 (largest μ), and the paired FedProx μ>0 − FedAvg
    difference; plus the mean of that difference at the claim's straggler rate over the
    datasets present (NaN when none). Returns (header, rows, mean difference)."""
    header = ["Dataset", "Stragglers", "FedAvg", "FedProx μ=0", "FedProx μ>0",
              "Δ (μ>0 − FedAvg)", "95% CI"]
    rows: list[list[str]] = []
    at_claim: list[float] = []
    for protocol in _federated_protocols(summary_df):
        mine = summary_df[summary_df["protocol"] == protocol]
        for sf in sorted(mine["stragglers"].unique()):
            cell = mine[mine["stragglers"] == sf]
            avg = cell[cell["algorithm"] == "fedavg"]
            prox0 = cell[(cell["algorithm"] == "fedprox") & (cell["mu"] == 0)]
            proxmu = cell[(cell["algorithm"] == "fedprox") & (cell["mu"] > 0)]
            proxmu = proxmu.sort_values("mu").tail(1)

            def acc(frame: pd.DataFrame) -> str:
                if frame.empty:
                    return "—"
                r = frame.iloc[0]
                return _pm(r["last10_acc_mean"], r["last10_acc_std"], 3)

            diff, ci = math.nan, "—"
            label = "FedProx μ>0"
            if not proxmu.empty:
                r = proxmu.iloc[0]
                label = r["variant"]
                diff = float(r["paired_diff_last10_mean"])
                if math.isfinite(r["paired_ci_low"]):
                    ci = f"[{r['paired_ci_low']:+.3f}, {r['paired_ci_high']:+.3f}]"
            if math.isfinite(diff) and abs(sf - FEDPROX_PAPER_CLAIM.stragglers) < 1e-9:
                at_claim.append(diff)
            rows.append([protocol, _rate(sf), acc(avg), acc(prox0),
                         f"{acc(proxmu)} ({label.split()[-1]})" if not proxmu.empty else "—",
                         "—" if not math.isfinite(diff) else f"{diff:+.3f}", ci])
    mean = sum(at_claim) / len(at_claim) if at_claim else math.nan
    return header, rows, mean


def _known_differences(prov: dict[str, Any], summary_df: pd.DataFrame) -> list[str]:
    items: list[str] = []
    for protocol in sorted(summary_df["protocol"].unique()):
        items += KNOWN_DIFFERENCES.get(protocol, ())
    rounds = sorted({int(r) for r in summary_df["rounds"]})
    if rounds != [100]:
        items.append(f"Rounds. This report ran {_join(rounds)} rounds; the published values are "
                     "read at round 100, so they are a reference for shape, not a target.")
    n_div = int(prov.get("n_diverged", 0))
    if n_div:
        items.append(f"Diverged runs. {n_div} run(s) stopped on a non-finite loss or weights; "
                     "they are counted in the tables and left out of every mean, band and pair.")
    return items


# --------------------------------------------------------------------------- build


@contextmanager
def report_document(path: str | Path, name: str, prov: dict[str, Any],
                    subject: str) -> Iterator[_Document]:
    """A report PDF at ``path``, written atomically (temporary name, then rename).

    Both reports (``write_report`` and ``fedbench.targets``) open their pages here, so
    they share the metadata (no creation date), the footer (version, name, git commit)
    and the style. The file appears only when the ``with`` block completes.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    fedbench_version = _join(prov.get("versions", {}).get("fedbench", []))
    metadata = {"Title": f"fedbench report: {name}", "Author": "fedbench",
                "Subject": subject, "Creator": f"fedbench {fedbench_version}",
                "CreationDate": None}
    with plots.style(), PdfPages(tmp, metadata=metadata) as pdf:
        doc = _Document(pdf, footer=f"fedbench {fedbench_version} · {name} · "
                                    f"{_join(prov.get('git_commits', []))[:24]}")
        yield doc
        doc.finish_page()
    os.replace(tmp, out)


def provenance_and_setup(doc: _Document, provenance: Sequence[Sequence[str]],
                         setup: Sequence[Sequence[str]], notes: Sequence[str],
                         protocols: Sequence[str]) -> None:
    """The "Provenance" and "Setup" sections every report opens with: what made the numbers,
    then what was run (with the config's warnings in red and each protocol's description)."""
    doc.heading("Provenance")
    doc.table([_Column("", 0.3), _Column("", 0.7)], provenance, header=False)
    doc.heading("Setup")
    doc.table([_Column("", 0.3), _Column("", 0.7)], setup, header=False)
    for note in notes:
        doc.paragraph(note, bullet=True, color="#8a1c1c")
    for p in protocols:
        if p in PROTOCOL_TITLES:
            doc.paragraph(f"{p}: {get_protocol(p).description}.", size=8.5, color=MUTED)


def write_report(path: str | Path, rounds_df: pd.DataFrame, summary_df: pd.DataFrame,
                 prov: dict[str, Any], name: str, config: ExperimentConfig | None = None,
                 config_path: str | None = None) -> Path:
    """Write the PDF report to ``path`` (atomically: temporary name, then rename)."""
    protocols = sorted(summary_df["protocol"].unique())
    protocol_title = _join([PROTOCOL_TITLES.get(p, p) for p in protocols])
    n_seeds = len(prov.get("seeds", [])) or int(summary_df["n_seeds"].max())
    with report_document(path, name, prov, protocol_title) as doc:
        doc.new_page()
        doc.title("fedbench report", f"{name} — {protocol_title}",
                  f"FedAvg and FedProx on MNIST with Flower · aggregated "
                  f"{str(prov.get('created_at', '?'))[:10]}")

        provenance_and_setup(doc, _provenance_rows(prov, config, config_path),
                             _setup_rows(prov, summary_df), config_notes(prov, config),
                             protocols)
        doc.paragraph(
            f"Metrics: test loss (mean cross-entropy) and accuracy of the global model after "
            f"every round, on the protocol's test data (above); round 0 is the initial model. "
            f"“Last-{LAST_K}” is, per seed, the mean accuracy over the last {LAST_K} rounds, then "
            f"mean ± sample std over seeds: it is the regression metric checked in CI.",
            size=8.5, color=MUTED)

        doc.new_page()
        doc.heading("Results", keep_with=5.0)
        doc.paragraph(
            f"Test loss and test accuracy per round, one row per straggler rate. Lines are the "
            f"mean over {n_seeds} seed(s), bands ±1 standard deviation; diverged runs are left "
            f"out. Layout as in the published figure (rows: straggler rate; columns: loss, "
            f"accuracy)."
            + (" At 0 % stragglers FedAvg and FedProx μ=0 are the same algorithm with the same "
               "draws, so their lines coincide." if (summary_df["stragglers"] == 0).any() else ""))
        doc.plot(lambda fig, anchor: plots.draw_curves(fig, rounds_df, anchor))

        doc.new_page()
        doc.heading("Final accuracy", keep_with=4.0)
        doc.plot(lambda fig, anchor: plots.draw_final_accuracy(fig, summary_df, anchor),
                 height=4.1)
        header, rows = final_accuracy_rows(summary_df)
        align = ["left", "left", "right", "right", "right", "right", "right"]
        doc.table(_columns(header, rows, 8, align), rows, size=8)
        doc.paragraph(
            "* Published: test accuracy at round 100, ≈, read off a figure (no table was "
            "published); source: Flower repository, baselines/fedprox, README figure "
            "_static/FedProx_mnist.png (PROTOCOLS.md §1). fedbench values are mean ± sample std "
            "over the seeds that did not diverge.", size=8, color=MUTED)

        paired = paired_table(summary_df)
        # keep the section whole on one page when it fits on a fresh one
        doc.heading("Paired comparison", keep_with=min(1.2 + 0.2 * len(paired), 8.0))
        doc.paragraph(
            f"Each variant minus FedAvg at the same straggler rate, paired by seed (same "
            f"partition, clients and stragglers), on the last-{LAST_K} accuracy. Interval: "
            f"mean ± t(0.975, n−1)·s/√n over the n per-seed differences (95 % Student t); "
            f"“significant” means it excludes 0. With fewer than two pairs there is no "
            f"interval.", size=8.5)
        if summary_df["protocol"].nunique() <= 1:
            paired = paired.drop(columns=["Protocol"])
        paired_rows = [[str(v) for v in r] for r in paired.itertuples(index=False)]
        if paired_rows:
            titles = list(paired.columns)
            align = ["right" if t in ("Pairs", "Δ last-10 acc.", "95% CI") else "left"
                     for t in titles]
            doc.table(_columns(titles, paired_rows, 8, align), paired_rows, size=8)
        else:
            doc.paragraph("No cell to compare: the grid has no FedAvg cell or no other variant.",
                          size=8.5, color=MUTED)

        if _federated_protocols(summary_df):
            _paper_section(doc, rounds_df, summary_df)

        doc.heading("Known differences", keep_with=1.0)
        for item in _known_differences(prov, summary_df):
            doc.paragraph(item, bullet=True, size=8.5)
    return Path(path)


def _paper_section(doc: _Document, rounds_df: pd.DataFrame, summary_df: pd.DataFrame) -> None:
    """The FedProx paper's Figure 1 layout and its one published number."""
    federated = _federated_protocols(summary_df)
    fed_rounds = rounds_df[rounds_df["protocol"].isin(federated)]
    for name, (metric, ylabel) in plots.BY_DATASET_FIGURES.items():
        doc.new_page()
        doc.heading("FedProx paper: " + ("training loss" if metric == "global_train_loss"
                                         else "test accuracy") + " by dataset", keep_with=5.0)
        doc.paragraph(
            f"As the paper's Figure 1: columns are datasets, rows straggler rates, lines FedAvg "
            f"(stragglers dropped), FedProx μ=0 and FedProx μ>0 (partial work kept); mean over "
            f"seeds, ±1 std bands. {ylabel.capitalize()} of the global model "
            + ("over every device's training data." if metric == "global_train_loss" else
               "= Σ correct / Σ n over every device's test split.") + f" (figures/{name}.pdf)",
            size=8.5)
        doc.plot(lambda fig, anchor, m=metric, y=ylabel: plots.draw_by_dataset(
            fig, fed_rounds, m, y, anchor))
    header, rows, mean = paper_comparison_rows(summary_df)
    doc.new_page()
    doc.heading("FedProx paper: final accuracy and the published claim",
                keep_with=min(1.5 + 0.2 * len(rows), 8.0))
    doc.paragraph(
        f"Last-{LAST_K} test accuracy (mean ± std over seeds) per dataset and straggler rate; "
        "Δ is FedProx μ>0 minus FedAvg, paired by seed, with its 95 % t interval.", size=8.5)
    align = ["left", "left", "right", "right", "right", "right", "right"]
    doc.table(_columns(header, rows, 8, align), rows, size=8)
    claim = FEDPROX_PAPER_CLAIM
    ours = "—" if not math.isfinite(mean) else f"{mean:+.3f} ({mean:+.1%})"
    present = sorted({r[0] for r in rows})
    doc.table([_Column("", 0.55), _Column("", 0.45, "right")], [
        ["Published (average over the paper's five datasets, 90 % stragglers)",
         f"{claim.value:+.2f} (+22 %)"],
        [f"fedbench (average Δ at {claim.stragglers:.0%} over {', '.join(present) or '—'})", ours],
    ], header=False, size=8.5)
    doc.paragraph(f"Source: {claim.source}. The paper's average includes FEMNIST, Sent140 and "
                  "Shakespeare, which fedbench does not run: the comparison is indicative.",
                  size=8, color=MUTED)


def build(reports_dir: str | Path, name: str, config: ExperimentConfig | None = None,
          config_path: str | None = None, figures_only: bool = False) -> list[Path]:
    """Figures under REPORTS/figures/ and, unless ``figures_only``, REPORTS/report.pdf."""
    root = Path(reports_dir)
    rounds_df, summary_df, prov = load_reports(root)
    written = plots.save_figures(rounds_df, summary_df, root / "figures")
    if not figures_only:
        written.append(write_report(root / REPORT_FILE, rounds_df, summary_df, prov, name,
                                    config, config_path))
    return written

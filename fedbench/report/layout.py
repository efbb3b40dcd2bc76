"""The page layout of fedbench's PDF reports: A4 pages filled top-down, text and tables.

Built with matplotlib's ``PdfPages`` only — no TeX, no extra dependency — so
``make report`` works on a bare machine. Pages are A4 portrait and laid out
top-down by a small cursor (``Document``): headings, wrapped paragraphs and
booktabs-style tables are placed in inches, and a figure takes the rest of its
page under matplotlib's constrained layout, so text never overlaps.

Both reports (the grid report and the rounds-to-target report) open their pages with
``report_document``, so they share the metadata (no creation date: the same inputs give
the same file), the footer (version, name, git commit) and the style, and both appear
only complete (``fedbench.io``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from fedbench.io import atomic_write_bytes
from fedbench.report.figures import RC, style

PAGE_W, PAGE_H = 8.27, 11.69  # A4 portrait, inches
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 0.8, 0.75, 0.8
TEXT_W = PAGE_W - 2 * MARGIN_X
CELL_PAD = 0.07  # inches on each side of a table cell
INK, MUTED, RULE, WARNING = "#1a1a1a", "#5a5a5a", "#333333", "#8a1c1c"


@dataclass
class Column:
    title: str
    width: float  # fraction of the table width
    align: str = "left"


class Document:
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
        self.fig.add_artist(rule(y, 0.6))
        self.y -= 0.42

    def paragraph(self, text: str, size: float = 9.0, bullet: bool = False,
                  color: str = INK) -> None:
        lines = wrap_to(text, TEXT_W - (0.18 if bullet else 0.0), size)
        line_h = size * 1.45 / 72
        for i, line in enumerate(lines):
            self.need(line_h)
            if bullet and i == 0:
                self._text(self.y, "•", fontsize=size, color=color)
            indent = MARGIN_X + (0.18 if bullet else 0.0)
            self._text(self.y, line, fontsize=size, color=color, x=indent)
            self.y -= line_h
        self.y -= 0.08

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]],
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
            fig.add_artist(rule(self.y / PAGE_H, 0.8))
            y = self.y - pad / 2
            if header:
                self._cells(y, columns, head, size, line_h, bold=True)
                y -= head_h
                fig.add_artist(rule((y + pad / 3) / PAGE_H, 0.5))
            while i < len(cells) and y - heights[i] >= MARGIN_BOTTOM:
                self._cells(y, columns, cells[i], size, line_h)
                y -= heights[i]
                i += 1
            fig.add_artist(rule((y + pad / 3) / PAGE_H, 0.8))
            self.y = y - 0.18
            if i >= len(cells):
                break
            self.new_page()

    def key_value_table(self, rows: Sequence[Sequence[str]]) -> None:
        """Two columns without a header: the provenance and setup tables."""
        self.table([Column("", 0.3), Column("", 0.7)], rows, header=False)

    @staticmethod
    def _wrap(columns: Sequence[Column], values: Sequence[str], size: float,
              bold: bool = False) -> list[list[str]]:
        return [wrap_to(str(value), column.width * TEXT_W - 2 * CELL_PAD, size, bold)
                for column, value in zip(columns, values, strict=True)]

    def _cells(self, y: float, columns: Sequence[Column], values: Sequence[list[str]],
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


def rule(y: float, width: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([MARGIN_X / PAGE_W, 1 - MARGIN_X / PAGE_W], [y, y], linewidth=width,
                  color=RULE)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Rendered width of ``text`` in inches (measured with the report's font, not guessed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=RC["font.family"], size=size,
                          weight="bold" if bold else "normal")
    width, _h, _d = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def wrap_to(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to ``width`` inches; a single over-long word stays whole."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and text_width(candidate, size, bold) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def columns(titles: Sequence[str], rows: Sequence[Sequence[str]], size: float,
            align: Sequence[str] | None = None, wrap_titles: bool = False,
            wrap: Sequence[int] = ()) -> list[Column]:
    """Columns as wide as their widest cell, spare width shared out evenly.

    When the natural widths exceed the text width, the columns listed in ``wrap`` (indices:
    long names) give up width first, down to their longest word; if that is not enough, all
    columns shrink in proportion and their cells wrap. With ``wrap_titles`` a title counts
    only with its longest word (it wraps over two lines rather than widen its column).
    """
    def title_width(title: str) -> float:
        words = title.split(" ") if wrap_titles else [title]
        return max(text_width(w, size, bold=True) for w in words)

    natural = [max([title_width(t)] + [text_width(r[i], size) for r in rows])
               + 2 * CELL_PAD for i, t in enumerate(titles)]
    total = sum(natural)
    if total > TEXT_W and wrap:
        floor = {i: max([title_width(titles[i])] + [text_width(w, size) for r in rows
                                                     for w in str(r[i]).split(" ")])
                 + 2 * CELL_PAD for i in wrap}
        room = sum(natural[i] - floor[i] for i in wrap)
        if room >= total - TEXT_W:
            give = (total - TEXT_W) / room
            natural = [w - give * (w - floor[i]) if i in floor else w
                       for i, w in enumerate(natural)]
            total = sum(natural)
    if total <= TEXT_W + 1e-9:
        widths = [(w + (TEXT_W - total) / len(natural)) / TEXT_W for w in natural]
    else:
        widths = [w / total for w in natural]
    align = align or ["left"] * len(titles)
    return [Column(t, w, a) for t, w, a in zip(titles, widths, align, strict=True)]


# --------------------------------------------------------------------------- text


def pm(mean: float, std: float, digits: int = 4) -> str:
    """"mean ± std"; just the mean when one seed leaves the spread unknown."""
    if mean is None or not math.isfinite(mean):
        return "—"
    if std is None or not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def duration(seconds: float) -> str:
    h, rest = divmod(round(seconds), 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min {s:02d} s"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def join(values: Sequence[Any], empty: str = "unknown") -> str:
    return ", ".join(str(v) for v in values) if values else empty


def rate(value: float) -> str:
    return f"{value:.0%}"


# --------------------------------------------------------------------------- the file


@contextmanager
def report_document(path: str | Path, name: str, prov: dict[str, Any],
                    subject: str) -> Iterator[Document]:
    """A report PDF at ``path``: its pages are added inside the ``with`` block, and the file
    is written (atomically, ``fedbench.io``) only when the block completes."""
    fedbench_version = join(prov.get("versions", {}).get("fedbench", []))
    metadata = {"Title": f"fedbench report: {name}", "Author": "fedbench",
                "Subject": subject, "Creator": f"fedbench {fedbench_version}",
                "CreationDate": None}
    buffer = io.BytesIO()
    with style(), PdfPages(buffer, metadata=metadata) as pdf:
        doc = Document(pdf, footer=f"fedbench {fedbench_version} · {name} · "
                                   f"{join(prov.get('git_commits', []))[:24]}")
        yield doc
        doc.finish_page()
    atomic_write_bytes(path, buffer.getvalue())

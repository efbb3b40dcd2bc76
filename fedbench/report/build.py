"""Build the reports: figures and report.pdf, from the sections of each report kind.

Two kinds of report, each a list of sections written once here:

- the grid report (``fedbench report``): what ``fedbench aggregate`` wrote (rounds.csv,
  summary.csv, provenance.json) plus the experiment config;
- the rounds-to-target report (``fedbench targets``): the runs and table of
  ``fedbench.analysis.targets``.

A report reads only its inputs and adds no timestamp of its own: the same inputs give the
same pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fedbench.analysis.summary import load_reports
from fedbench.analysis.targets import TargetRuns
from fedbench.config import ExperimentConfig
from fedbench.report import figures
from fedbench.report.layout import join, report_document
from fedbench.report.sections import (
    GridReport,
    Section,
    TargetsReport,
    algorithms,
    curves,
    final_accuracy,
    heterogeneity,
    known_differences,
    paired_comparison,
    paper_comparison,
    paper_figures,
    partial_work,
    protocol_title,
    provenance,
    rounds_to_target,
    setup,
    sweeps,
    target_curves,
    title,
)

REPORT_FILE = "report.pdf"

GRID_SECTIONS: tuple[Section, ...] = (
    title.GRID, provenance.SECTION, setup.GRID, algorithms.SECTION, curves.SECTION,
    final_accuracy.SECTION, heterogeneity.SECTION, sweeps.SECTION, paired_comparison.SECTION,
    partial_work.SECTION, paper_figures.SECTION, paper_comparison.SECTION,
    known_differences.GRID,
)
TARGET_SECTIONS: tuple[Section, ...] = (
    title.TARGETS, provenance.SECTION, setup.TARGETS, rounds_to_target.SECTION,
    target_curves.SECTION, known_differences.TARGETS,
)


def headings(sections: tuple[Section, ...]) -> list[str]:
    """The section titles every report of a kind has (literal PDF text)."""
    return [s.heading for s in sections if s.heading and not s.conditional]


def _write(path: str | Path, sections: tuple[Section, ...], report: Any,
           protocols: list[str]) -> Path:
    subject = join([protocol_title(p) for p in protocols])
    with report_document(path, report.name, report.prov, subject) as doc:
        for section in sections:
            section.add(doc, report)
    return Path(path)


def write_report(path: str | Path, report: GridReport) -> Path:
    """The grid report's PDF at ``path`` (written atomically)."""
    return _write(path, GRID_SECTIONS, report, sorted(report.summary["protocol"].unique()))


def build(reports_dir: str | Path, name: str, config: ExperimentConfig | None = None,
          config_path: str | None = None, figures_only: bool = False) -> list[Path]:
    """Figures under REPORTS/figures/ and, unless ``figures_only``, REPORTS/report.pdf."""
    root = Path(reports_dir)
    rounds_df, summary_df, prov = load_reports(root)
    written = figures.save_figures(rounds_df, summary_df, root / "figures")
    if not figures_only:
        report = GridReport(name, rounds_df, summary_df, prov, config, config_path)
        written.append(write_report(root / REPORT_FILE, report))
    return written


def build_targets(out_dir: str | Path, name: str, data: TargetRuns, table: pd.DataFrame,
                  prov: dict[str, Any], config: ExperimentConfig | None = None,
                  config_path: str | None = None) -> list[Path]:
    """OUT/figures/target_curves.{png,pdf} and OUT/report.pdf of a rounds-to-target grid."""
    out = Path(out_dir)
    written = figures.save_target_curves(data.curves, data.runs, out / "figures")
    report = TargetsReport(name, data.runs, data.curves, table, prov, config, config_path)
    written.append(_write(out / REPORT_FILE, TARGET_SECTIONS, report,
                          sorted(data.runs["protocol"].unique())))
    return written

"""The "Accuracy per round" section: the curves behind every rounds-to-target number, a few
panels (partition, model) per page."""

from __future__ import annotations

import pandas as pd

from fedbench.analysis.targets import SETTING_KEYS
from fedbench.report import figures
from fedbench.report.layout import Document
from fedbench.report.sections import Section, TargetsReport

HEADING = "Accuracy per round"
PANELS_PER_PAGE = 4


def _seeds_text(runs_df: pd.DataFrame) -> str:
    per_setting = runs_df.groupby(list(SETTING_KEYS))["seed"].nunique()
    lo, hi = int(per_setting.min()), int(per_setting.max())
    return f"{hi} per setting" if lo == hi else f"{lo} to {hi} per setting"


def add(doc: Document, report: TargetsReport) -> None:
    runs, curves = report.runs, report.curves
    stopped = int(runs["stopped_at_target"].notna().sum())
    panels = figures.target_panels(curves)
    for start in range(0, len(panels), PANELS_PER_PAGE):
        chunk = panels[start:start + PANELS_PER_PAGE]
        doc.new_page()
        doc.heading(HEADING + (" (continued)" if start else ""), keep_with=5.0)
        if not start:
            doc.paragraph(
                "Test accuracy of the global model per round, one panel per partition and "
                f"model, one colour per (E, B). Thin lines are single seeds; the thick line "
                f"is the mean over the seeds ({_seeds_text(runs)}), drawn only over the "
                "rounds every seed ran, so it "
                "ends where the first seed's run ended. The dotted line is the target"
                + ("; a dot marks a run that stopped there" if stopped else "")
                + ". Runs longer than 100 rounds are drawn on a logarithmic round axis. "
                f"(figures/{figures.TARGET_FIGURE}.pdf)", size=8.5)
        height = min(doc.room(), 0.6 + 2.3 * len(chunk))
        doc.plot(lambda fig, anchor, c=chunk: figures.draw_target_curves(fig, curves, runs, c),
                 height=height, legend_h=0.1)


SECTION = Section(HEADING, add)

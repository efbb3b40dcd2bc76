"""What users read: the README's notation table agrees with the report's (``NOTATION``), the
Korean quickstart is linked from the top of the README and uses the real commands, and the
``snakemake --report`` intro (workflow/report/workflow.rst) describes the grid that ran."""

from __future__ import annotations

import io
import re
import types
from pathlib import Path

import docutils.core
import jinja2
import pytest

from fedbench.config import load_experiment, validate_experiment
from fedbench.report.sections.setup import NOTATION

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
KOREAN = (REPO / "README.ko.md").read_text(encoding="utf-8")


def _rows(text: str) -> dict[str, list[str]]:
    """First cell -> cells of every Markdown table row."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], cells)
    return rows


@pytest.mark.parametrize("symbol", NOTATION, ids=lambda s: s.symbol)
def test_readme_notation_table_agrees_with_the_report(symbol) -> None:
    row = _rows(README.split("## Notation", 1)[1].split("\n## ", 1)[0]).get(symbol.symbol)
    assert row is not None, f"{symbol.symbol} missing from the README's notation table"
    assert f"`{symbol.key}`" in row[2], (symbol, row)
    assert row[1] == symbol.meaning or symbol.meaning in row[1], (symbol, row)


@pytest.mark.parametrize("symbol", NOTATION, ids=lambda s: s.symbol)
def test_korean_quickstart_maps_every_symbol_to_its_key(symbol) -> None:
    row = _rows(KOREAN).get(symbol.symbol)
    assert row is not None and f"`{symbol.key}`" in " ".join(row), symbol


def test_korean_quickstart_is_linked_from_the_top_of_the_readme() -> None:
    head = README.split("\n## ", 1)[0]
    assert "(README.ko.md)" in head
    assert "(README.md)" in KOREAN.split("\n## ", 1)[0]


def test_korean_quickstart_commands_use_real_configs_and_options() -> None:
    commands = re.findall(r"^(?:fedbench|snakemake) .*$", KOREAN, flags=re.MULTILINE)
    assert len(commands) >= 4
    for config in re.findall(r"configs/[\w.-]+\.yaml", KOREAN):
        assert (REPO / config).is_file(), config
    for option in set(re.findall(r"--[a-z-]+", KOREAN)):
        assert option in README, option  # documented in the README too


def _render(config: dict) -> str:
    text = jinja2.Template((REPO / "workflow/report/workflow.rst").read_text()).render(
        snakemake=types.SimpleNamespace(config=config))
    warnings = io.StringIO()
    docutils.core.publish_string(text, writer_name="html",
                                 settings_overrides={"warning_stream": warnings})
    assert warnings.getvalue() == "", warnings.getvalue()
    return " ".join(text.split())


def _resolved(path: str, **override) -> dict:
    experiment = load_experiment(REPO / path).model_dump(mode="json")
    for key, value in override.items():
        experiment[key] = value if not isinstance(value, dict) else {**experiment[key], **value}
    return validate_experiment(experiment).model_dump(mode="json")


def test_report_intro_describes_the_default_grid() -> None:
    text = _render(_resolved("configs/default.yaml"))
    assert "Experiment **fedprox-mnist** ran 45 runs" in text
    assert "straggler rates (gamma): 0.0, 0.5, 0.9" in text
    assert "K = 1000 clients, 10 trained per round (C = 0.01), 100 rounds" in text
    assert "sweeps mu" not in text and "rounds until the global model" not in text


def test_report_intro_describes_a_settings_grid() -> None:
    text = _render(_resolved("configs/fedavg-mcmahan-2nn.yaml"))
    assert "Experiment **fedavg-mcmahan-2nn** ran 36 runs" in text
    assert "protocols: mcmahan-iid, mcmahan-noniid" in text
    assert "2nn E=1 B=inf lr=0.2" in text
    assert "rounds until the global model first reaches its target" in text
    assert "1000 rounds is the cap" in text
    assert "A straggler" not in text  # no stragglers in this grid


def test_report_intro_describes_a_mu_sweep() -> None:
    grid = {"variants": [{"algorithm": "fedavg"}, *({"algorithm": "fedprox", "mu": m}
                                                     for m in (0.0, 0.1, 1.0))],
            "stragglers": [0.9], "seeds": [0, 1, 2]}
    text = _render(_resolved("configs/quick.yaml", name="mu-sweep", grid=grid))
    assert "Experiment **mu-sweep** ran 12 runs" in text
    assert "fedprox 0.1; fedprox 1.0" in text
    assert "The grid sweeps mu" in text and "one straggler rate" in text

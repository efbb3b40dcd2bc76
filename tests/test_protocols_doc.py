"""PROTOCOLS.md agrees with the protocol modules: every registered protocol is named in the
section its docs cite, and every published number a report shows (figure readings, the
+22 % claim, McMahan's Table 2, Flower's replication, the target accuracies) is written there.

PROTOCOLS.md is the source the README, the configs and the PDF's footnotes cite; a number that
changes in ``fedbench.protocols`` without PROTOCOLS.md (or the other way round) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fedbench.protocols import registry
from fedbench.protocols.base import Protocol

DOC = Path(__file__).resolve().parents[1] / "PROTOCOLS.md"


def sections(text: str) -> dict[str, str]:
    """"1" -> the text of ``## 1. ...`` up to the next ``## `` heading (subsections included)."""
    found: dict[str, str] = {}
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    for part in parts[1:]:
        match = re.match(r"(\d+)\.", part)
        if match:
            found[match.group(1)] = part
    return found


def cited_section(protocol: Protocol) -> str:
    """The PROTOCOLS.md section a protocol's docs cite ("PROTOCOLS.md section 2" / "§2")."""
    match = re.search(r"PROTOCOLS\.md (?:section |§)(\d+)", protocol.docs.source)
    assert match, f"{protocol.name}: docs.source cites no PROTOCOLS.md section"
    return match.group(1)


def names_lines(section: str) -> set[str]:
    """Every name on the section's "Protocol names: `a`, `b`" lines."""
    names: set[str] = set()
    for line in re.findall(r"^Protocol names: (.*)$", section, flags=re.MULTILINE):
        names.update(re.findall(r"`([^`]+)`", line))
    return names


def table_rows(section: str) -> set[tuple[str, ...]]:
    """Every Markdown table row of a section, as a tuple of stripped cells."""
    rows = set()
    for line in section.splitlines():
        if line.startswith("|") and line.endswith("|"):
            rows.add(tuple(cell.strip() for cell in line.strip("|").split("|")))
    return rows


@pytest.fixture(scope="module")
def doc() -> dict[str, str]:
    return sections(DOC.read_text(encoding="utf-8"))


PROTOCOLS = sorted(registry())


def test_the_parser_finds_the_sections(doc) -> None:
    assert {"1", "2", "3"} <= doc.keys()
    assert names_lines(doc["1"]) == {"flower-baseline"}


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_registered_protocol_is_named_in_the_section_it_cites(doc, name) -> None:
    protocol = registry()[name]
    section = cited_section(protocol)
    assert section in doc, f"{name} cites PROTOCOLS.md section {section}, which does not exist"
    assert name in names_lines(doc[section]), (
        f"{name} is not on a 'Protocol names:' line of PROTOCOLS.md section {section}")


def test_every_name_in_protocols_md_is_registered(doc) -> None:
    named = set().union(*(names_lines(text) for text in doc.values()))
    assert named == set(registry()), "PROTOCOLS.md names protocols that are not registered"


@pytest.mark.parametrize("name", PROTOCOLS)
def test_figure_readings_are_in_protocols_md(doc, name) -> None:
    protocol = registry()[name]
    text = doc[cited_section(protocol)]
    for value in protocol.docs.published:
        assert value.text() in text, f"{name}: {value} ({value.text()}) not in PROTOCOLS.md"
        assert f"{value.stragglers:.0%}".replace("%", " %") in text


@pytest.mark.parametrize("name", PROTOCOLS)
def test_published_claims_are_in_protocols_md(doc, name) -> None:
    """The claim's number ("improves ... by 22 %") and straggler rate, in the paragraph that
    cites the claim's place in the paper (e.g. "section 5.2")."""
    protocol = registry()[name]
    text = doc[cited_section(protocol)]
    for claim in protocol.docs.claims:
        place = re.search(r"section \d+(?:\.\d+)*", claim.source)
        assert place, f"{name}: the claim's source names no section of the paper"
        paragraphs = [p for p in text.split("\n\n") if place.group(0) in p]
        assert paragraphs, f"{name}: no paragraph of PROTOCOLS.md cites {place.group(0)}"
        assert any(re.search(rf"by \**{claim.value * 100:.0f} %", p)
                   and f"{claim.stragglers * 100:.0f} % stragglers" in p for p in paragraphs), (
            f"{name}: the claim {claim.value:+.0%} at {claim.stragglers:.0%} stragglers is not "
            f"where PROTOCOLS.md cites {place.group(0)}")


def _b(batch: int) -> str:
    return "∞" if batch == 0 else str(batch)


@pytest.mark.parametrize("name", PROTOCOLS)
def test_rounds_to_target_tables_are_in_protocols_md(doc, name) -> None:
    """McMahan's Table 2 (one column per partition) and Flower's replication, row by row."""
    protocol = registry()[name]
    rows = table_rows(doc[cited_section(protocol)])
    column = {"mcmahan-iid": 2, "mcmahan-noniid": 3}.get(name)
    for row in protocol.docs.rounds_to_target:
        assert column is not None, f"{name} has a rounds-to-target table: map its column here"
        found = [r for r in rows if len(r) == 4 and r[:2] == (str(row.local_epochs),
                                                                _b(row.batch_size))]
        assert found, f"{name}: Table 2 row E={row.local_epochs} B={_b(row.batch_size)} missing"
        assert found[0][column] == str(row.rounds), (name, row, found[0])
    for row in protocol.docs.reference_rounds:
        assert (str(row.local_epochs), _b(row.batch_size), str(row.rounds)) in rows, (name, row)


@pytest.mark.parametrize("name", PROTOCOLS)
def test_target_accuracies_are_in_protocols_md(doc, name) -> None:
    protocol = registry()[name]
    text = doc[cited_section(protocol)]
    for model, target in protocol.targets.items():
        assert re.search(rf"target {target * 100:g} %", text), (name, model, target)


def test_a_changed_number_would_be_caught(doc) -> None:
    """The checks fail on a PROTOCOLS.md whose numbers differ (the test can fail)."""
    value = registry()["flower-baseline"].docs.published[-1]
    edited = doc["1"].replace(value.text(), "≈0.01")
    assert value.text() in doc["1"] and value.text() not in edited
    row = registry()["mcmahan-iid"].docs.rounds_to_target[0]
    cells = (str(row.local_epochs), _b(row.batch_size), str(row.rounds))
    line = next(r for r in table_rows(doc["3"]) if r[:3] == cells)
    changed = doc["3"].replace("| " + " | ".join(line) + " |",
                               "| " + " | ".join((*cells[:2], str(row.rounds + 1), *line[3:]))
                               + " |")
    assert not any(r[:3] == cells for r in table_rows(changed))

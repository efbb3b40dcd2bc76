"""The simulate rule's digest covers exactly what a cell computes.

Snakemake reruns every cell of a grid when the digest changes, so it must move with
every change to the computation and with nothing else: not comments, docstrings or
formatting, and not the report prose a protocol module carries in its ``docs``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fedbench import digest

PACKAGE = Path(digest.__file__).parent


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the fedbench sources to edit."""
    copy = tmp_path / "fedbench"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_copy_has_the_same_digest(package: Path) -> None:
    assert digest.runtime_digest(package) == digest.runtime_digest()


def test_a_comment_in_local_training_leaves_the_digest_unchanged(package: Path) -> None:
    before = digest.runtime_digest(package)
    training = package / "fl" / "training.py"
    edit(training, "    lr, mu, decay = sgd.lr, sgd.mu, sgd.weight_decay\n",
         "    # the solver's three numbers\n    lr, mu, decay = sgd.lr, sgd.mu, sgd.weight_decay\n")
    assert digest.runtime_digest(package) == before


def test_docstrings_and_formatting_leave_the_digest_unchanged(package: Path) -> None:
    before = digest.runtime_digest(package)
    training = package / "fl" / "training.py"
    edit(training, '"""Shuffled sample order for each local epoch',
         '"""A reworded docstring: the shuffled order of each epoch')
    edit(training, "    keep = 1.0 - lr * (decay + mu)\n",
         "    keep = (1.0\n            - lr * (decay + mu))\n")
    assert digest.runtime_digest(package) == before


def test_a_sentence_of_known_differences_leaves_the_digest_unchanged(package: Path) -> None:
    before = digest.runtime_digest(package)
    baseline = package / "protocols" / "flower_baseline.py"
    edit(baseline, '"Test loss scale. Flower', '"Test loss scale (reworded). Flower')
    paper = package / "protocols" / "fedprox_paper.py"
    edit(paper, '"Weight decay. The paper', '"Weight decay, reworded. The paper')
    assert digest.runtime_digest(package) == before


def test_a_published_value_leaves_the_digest_unchanged(package: Path) -> None:
    before = digest.runtime_digest(package)
    edit(package / "protocols" / "mcmahan.py", "(5, 10): (20, 229)", "(5, 10): (21, 229)")
    assert digest.runtime_digest(package) == before


def test_a_changed_numeric_constant_in_training_changes_the_digest(package: Path) -> None:
    before = digest.runtime_digest(package)
    edit(package / "fl" / "training.py", "    keep = 1.0 - lr * (decay + mu)\n",
         "    keep = 1.0 - lr * (decay + mu) * 0.5\n")
    assert digest.runtime_digest(package) != before


def test_a_changed_protocol_rule_changes_the_digest(package: Path) -> None:
    before = digest.runtime_digest(package)
    edit(package / "protocols" / "flower_baseline.py", "val_fraction=0.1", "val_fraction=0.2")
    assert digest.runtime_digest(package) != before


def test_a_changed_stream_name_changes_the_digest(package: Path) -> None:
    """String constants outside ``docs`` are code: a random stream's name is one."""
    before = digest.runtime_digest(package)
    edit(package / "fl" / "sampling.py", '"sample"', '"sampled"')
    assert digest.runtime_digest(package) != before


def test_the_report_layers_are_not_part_of_the_cell_digest(package: Path) -> None:
    before = digest.runtime_digest(package)
    for layer in ("analysis", "report"):
        module = next((package / layer).glob("*.py"))
        module.write_text(module.read_text() + "\nCHANGED_CONSTANT = 1\n")
    assert digest.runtime_digest(package) == before
    assert digest.code_digest(digest.REPORT, package=package) != digest.code_digest(digest.REPORT)

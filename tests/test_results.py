"""Result files: provenance and atomic writes."""

from __future__ import annotations

import re
from pathlib import Path

from fedbench.apps.results import git_commit
from fedbench.io import atomic_write_text

REPO = Path(__file__).resolve().parents[1]


def test_git_commit_names_head_and_marks_a_dirty_tree() -> None:
    commit = git_commit(REPO)
    assert commit is not None and re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)


def test_git_commit_is_none_outside_a_repository(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None


def test_atomic_write_leaves_only_the_final_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "rounds.csv"
    atomic_write_text(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert [p.name for p in target.parent.iterdir()] == ["rounds.csv"]

"""Tidy CSVs: every committed table loads with pandas with the types its columns mean (counts
are integers, B a number, one row per seed in targets.csv), a column name means one thing in
every file (``stragglers`` a rate, ``n_stragglers`` a count), and run directories written
before the rename are still read."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from pandas.api import types

from fedbench.analysis.rundirs import read_rounds_csv
from fedbench.analysis.summary import SUMMARY_COLUMNS, TIDY_COLUMNS, aggregate
from fedbench.analysis.targets import SEED_COLUMNS, TARGET_COLUMNS
from fedbench.apps.results import ROUND_COLUMNS
from tests.conftest import write_run_json

REPO = Path(__file__).resolve().parents[1]


def committed_csvs() -> list[Path]:
    """The CSVs committed under reports/ and configs/expected/ (not a local run's reports)."""
    try:
        listed = subprocess.run(["git", "ls-files", "--", "reports/*.csv",
                                 "configs/expected/*.csv"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every such CSV
        return sorted([*REPO.glob("reports/*/*.csv"), *REPO.glob("configs/expected/*.csv")])
    return sorted(REPO / line for line in listed.splitlines() if line)


COMMITTED = committed_csvs()

TEXT, FLOAT, INT, BOOL = "text", "float", "int", "bool"
# an integer column that may be blank (not reached, not published): whole numbers or empty
NULLABLE_INT = "int or blank"
KINDS = {
    "summary.csv": {
        **dict.fromkeys(SUMMARY_COLUMNS, FLOAT),
        **dict.fromkeys(("name", "protocol", "partition", "algorithm", "params", "variant",
                         "status", "paired_baseline"), TEXT),
        **dict.fromkeys(("n_seeds", "n_ok", "n_diverged", "rounds", "n_pairs"), INT),
    },
    "rounds.csv": {  # every round of every run (a grid small enough to commit them)
        **dict.fromkeys(("name", "protocol", "partition", "algorithm", "params", "variant",
                         "status"), TEXT),
        **dict.fromkeys(("mu", "stragglers", "test_loss", "test_accuracy", "train_loss",
                         "global_train_loss", "seconds"), FLOAT),
        **dict.fromkeys(("seed", "round", "sampled", "n_stragglers", "dropped", "failed",
                         "examples"), INT),
    },
    "targets.csv": {
        **dict.fromkeys(("protocol", "model", "status"), TEXT),
        **dict.fromkeys(("local_epochs", "batch_size", "rounds", "seed"), INT),
        **dict.fromkeys(("lr", "target"), FLOAT),
        **dict.fromkeys(("reached", "stopped"), BOOL),
        "rounds_to_target": NULLABLE_INT,
    },
    "targets_summary.csv": {
        **dict.fromkeys(("protocol", "model"), TEXT),
        **dict.fromkeys(("local_epochs", "batch_size", "rounds", "n_seeds", "n_reached",
                         "n_stopped", "n_diverged"), INT),
        **dict.fromkeys(("lr", "target", "rounds_to_target_median", "best_acc_mean",
                         "acc_at_cap_mean"), FLOAT),
        **dict.fromkeys(("published_mcmahan", "published_flower"), NULLABLE_INT),
    },
    "expected": {
        **dict.fromkeys(("protocol", "algorithm", "variant", "metric", "paired_sign"), TEXT),
        **dict.fromkeys(("mu", "stragglers", "expected", "std", "band"), FLOAT),
        **dict.fromkeys(("n", "n_seeds", "n_diverged", "rounds"), INT),
    },
}


def kind_of(path: Path) -> str:
    return "expected" if path.parent.name == "expected" else path.name


def check_dtypes(frame: pd.DataFrame, kinds: dict[str, str], where: str) -> None:
    unexpected = set(frame.columns) - set(kinds)
    assert not unexpected, f"{where}: columns with no declared type: {unexpected}"
    for column in frame.columns:
        values, kind = frame[column], kinds[column]
        what = f"{where}: column {column} ({values.dtype}) should be {kind}"
        if kind == TEXT:
            assert types.is_string_dtype(values) or values.isna().all(), what
        elif kind == INT:
            assert types.is_integer_dtype(values), what
        elif kind == BOOL:
            assert types.is_bool_dtype(values), what
        elif kind == FLOAT:
            assert types.is_float_dtype(values) or types.is_integer_dtype(values), what
        else:  # NULLABLE_INT: pandas reads a blank as NaN, so the column is float
            assert types.is_numeric_dtype(values), what
            present = values.dropna()
            assert (present == present.round()).all(), f"{what}: {list(present)}"


def test_there_are_committed_csvs_to_check() -> None:
    names = {p.relative_to(REPO).as_posix() for p in COMMITTED}
    assert {"reports/fedprox-mnist/summary.csv", "configs/expected/ci.csv",
            "reports/fedavg-mcmahan-2nn/targets.csv",
            "reports/fedavg-mcmahan-2nn/targets_summary.csv"} <= names


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_committed_csv_has_the_dtypes_its_columns_mean(path: Path) -> None:
    frame = pd.read_csv(path)
    assert len(frame), path
    check_dtypes(frame, KINDS[kind_of(path)], path.relative_to(REPO).as_posix())
    text = path.read_text(encoding="utf-8")
    assert "∞" not in text, "B = ∞ is written 0 (FULL_BATCH) in every table"


def test_targets_csv_has_one_row_per_seed() -> None:
    for report in ("fedavg-mcmahan-2nn", "fedavg-mcmahan-reduced"):
        seeds = pd.read_csv(REPO / "reports" / report / "targets.csv")
        table = pd.read_csv(REPO / "reports" / report / "targets_summary.csv")
        assert list(seeds.columns) == list(SEED_COLUMNS)
        assert list(table.columns) == [c for c in TARGET_COLUMNS
                                       if c != "rounds_to_target_per_seed"]
        keys = ["protocol", "model", "local_epochs", "batch_size", "lr"]
        assert not seeds.duplicated([*keys, "seed"]).any()
        per_setting = seeds.groupby(keys, sort=False)
        assert per_setting.ngroups == len(table)
        merged = table.merge(per_setting.agg(n=("seed", "size"), reached=("reached", "sum"),
                                             median=("rounds_to_target", "median")).reset_index(),
                             on=keys)
        assert (merged["n"] == merged["n_seeds"]).all()
        assert (merged["reached"] == merged["n_reached"]).all()
        both = merged[merged["n_reached"] == merged["n_seeds"]]
        assert (both["median"] == both["rounds_to_target_median"]).all()


def test_dtype_check_fails_on_float_counts_and_text_numbers() -> None:
    kinds = KINDS["targets_summary.csv"]
    with pytest.raises(AssertionError, match="n_seeds"):
        check_dtypes(pd.DataFrame({"protocol": ["p"], "n_seeds": [2.0]}), kinds, "x")
    with pytest.raises(AssertionError, match="batch_size"):
        check_dtypes(pd.DataFrame({"protocol": ["p"], "batch_size": ["∞"]}), kinds, "x")


# --------------------------------------------------------------------------- run directories

def _write(run_dir: Path, header: list[str], rows: list[list], rounds: int = 2) -> Path:
    run_dir.mkdir(parents=True)
    lines = [",".join(header)] + [",".join(map(str, r)) for r in rows]
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "t", "protocol": "flower-baseline", "algorithm": "fedprox", "mu": 0.0,
              "stragglers": 0.5, "seed": 0,
              "federation": {"rounds": rounds, "num_clients": 20, "clients_per_round": 5},
              "training": {"model": "logreg", "local_epochs": 2, "batch_size": 10, "lr": 0.1,
                           "weight_decay": 0.0}}
    write_run_json(run_dir, config, status="ok", config_digest="abc", diverged_round=None,
                   final={"round": rounds, "test_accuracy": 0.5, "test_loss": 1.0})
    return run_dir


def _rows(n_stragglers: int) -> list[list]:
    return [[r, 2.0 - r / 2, 0.1 + 0.2 * r, 0 if r == 0 else 5, 0 if r == 0 else n_stragglers,
             0, 0, 0 if r == 0 else 120, "nan" if r == 0 else 0.5, "nan", 0.01]
            for r in range(3)]


def test_a_cells_rounds_csv_names_the_straggler_count_n_stragglers() -> None:
    assert "n_stragglers" in ROUND_COLUMNS and "stragglers" not in ROUND_COLUMNS
    assert "n_stragglers" in TIDY_COLUMNS and "stragglers" in TIDY_COLUMNS  # count and rate


def test_rounds_csv_written_before_the_rename_is_still_read(tmp_path: Path) -> None:
    old_header = [("stragglers" if c == "n_stragglers" else c) for c in ROUND_COLUMNS]
    old = _write(tmp_path / "fedprox-mu0.0-sf0.5" / "seed0", old_header, _rows(3))
    frame = read_rounds_csv(old / "rounds.csv")
    assert list(frame["n_stragglers"]) == [0, 3, 3]
    new = _write(tmp_path / "new" / "fedprox-mu0.0-sf0.5" / "seed0", list(ROUND_COLUMNS),
                 _rows(3))
    pd.testing.assert_frame_equal(read_rounds_csv(new / "rounds.csv"), frame)


def test_aggregated_rounds_csv_writes_counts_as_integers(tmp_path: Path) -> None:
    run = _write(tmp_path / "fedprox-mu0.0-sf0.5" / "seed0", list(ROUND_COLUMNS), _rows(2))
    paths = aggregate([run], tmp_path / "out", "t")
    with paths["rounds"].open() as f:
        rows = list(csv.DictReader(f))
    for column in ("round", "sampled", "n_stragglers", "dropped", "failed", "examples"):
        assert [r[column] for r in rows] == [str(int(float(r[column]))) for r in rows], column
    assert [r["n_stragglers"] for r in rows] == ["0", "2", "2"]
    assert {r["stragglers"] for r in rows} == {"0.5"}  # the rate, a different column
    tidy = pd.read_csv(paths["rounds"])
    assert all(types.is_integer_dtype(tidy[c]) for c in ("round", "sampled", "n_stragglers"))
    summary = pd.read_csv(paths["summary"])
    check_dtypes(summary, KINDS["summary.csv"], "summary.csv")
    assert json.loads(paths["provenance"].read_text())["n_runs"] == 1

"""Aggregation spec: from per-run files to the summary table the report and CI read.

Every test writes small synthetic run directories (rounds.csv + run.json, the
format ``fedbench run`` produces) with numbers chosen so that the expected
means, standard deviations and intervals can be checked by hand.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from fedbench.algorithms import label as variant_label
from fedbench.analysis.statistics import paired_t_interval, t_quantile_975
from fedbench.analysis.summary import (
    SUMMARY_COLUMNS,
    TIDY_COLUMNS,
    aggregate,
    load_runs,
    paired_table,
    summarize,
)
from fedbench.apps.results import ROUND_COLUMNS
from fedbench.cli import main
from fedbench.errors import UsageError
from tests.conftest import write_run_json


def write_run(root: Path, algorithm: str, mu: float, stragglers: float, seed: int,
              accs: Sequence[float], losses: Sequence[float] | None = None, status: str = "ok",
              rounds: int | None = None, wall: float = 10.0, name: str = "synthetic") -> Path:
    """A run directory as ``fedbench run`` writes it; accs[0] is round 0 (initial model)."""
    losses = list(losses) if losses is not None else [1.0 - a for a in accs]
    configured = rounds if rounds is not None else len(accs) - 1
    run_dir = root / f"{algorithm}-mu{mu}-sf{stragglers}" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    lines = [",".join(ROUND_COLUMNS)]
    for rnd, (acc, loss) in enumerate(zip(accs, losses, strict=True)):
        train = "nan" if rnd == 0 else "0.5"
        lines.append(f"{rnd},{loss!r},{acc!r},{0 if rnd == 0 else 10},0,0,0,100,{train},nan,0.1")
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    last = len(accs) - 1
    config = {
        "name": name, "protocol": "flower-baseline", "algorithm": algorithm, "mu": mu,
        "stragglers": stragglers, "seed": seed,
        "federation": {"num_clients": 1000, "clients_per_round": 10, "rounds": configured},
        "training": {"model": "logreg", "local_epochs": 10, "batch_size": 10, "lr": 0.03,
                     "weight_decay": 0.001},
        "runtime": {"backend": "inprocess", "device": "cpu", "threads": 1},
        "data": {"root": "resources", "mnist_dir": None},
    }
    write_run_json(run_dir, config, status=status,
                   diverged_round=last if status == "diverged" else None,
                   config_digest=f"d{algorithm[-3:]}{mu}{stragglers}{seed}",
                   final={"round": last, "test_accuracy": accs[-1], "test_loss": losses[-1]},
                   wall_seconds=wall, git_commit="abc123",
                   finished_at="2026-01-01T00:01:00+00:00")
    return run_dir


def flat(value: float, rounds: int) -> list[float]:
    """Accuracy 0.1 at round 0, then ``value`` in every round: last-10 = final = value."""
    return [0.1] + [value] * rounds


def cell_row(summary: pd.DataFrame, algorithm: str, mu: float, stragglers: float) -> pd.Series:
    sel = summary[(summary["algorithm"] == algorithm) & (summary["mu"] == mu)
                  & (summary["stragglers"] == stragglers)]
    assert len(sel) == 1
    return sel.iloc[0]


# --------------------------------------------------------------------------- labels, t


def test_variant_labels_name_the_published_lines():
    assert variant_label("fedavg", 0.0) == "FedAvg"
    assert variant_label("fedprox", 0.0) == "FedProx μ=0"
    assert variant_label("fedprox", 2.0) == "FedProx μ=2"
    assert variant_label("fedprox", 0.01) == "FedProx μ=0.01"


def test_t_quantile_matches_tables_and_approaches_normal():
    assert t_quantile_975(1) == pytest.approx(12.7062047, abs=1e-6)
    assert t_quantile_975(4) == pytest.approx(2.7764451, abs=1e-6)
    assert t_quantile_975(30) == pytest.approx(2.0422725, abs=1e-6)
    # above the table: Cornish–Fisher expansion, checked against exact values
    assert t_quantile_975(31) == pytest.approx(2.0395134, abs=1e-6)
    assert t_quantile_975(60) == pytest.approx(2.0002978, abs=1e-6)
    assert t_quantile_975(120) == pytest.approx(1.9799304, abs=1e-6)
    values = [t_quantile_975(df) for df in range(1, 200)]
    assert all(a > b for a, b in itertools.pairwise(values))
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_paired_interval_by_hand():
    # diffs 0.01, 0.03, 0.02, 0.04: mean 0.025, s = sqrt(0.0005 / 3), t(0.975, 3) = 3.18245
    mean, std, low, high = paired_t_interval([0.01, 0.03, 0.02, 0.04])
    half = 3.182446305284263 * math.sqrt(0.0005 / 3) / 2
    assert mean == pytest.approx(0.025)
    assert std == pytest.approx(math.sqrt(0.0005 / 3))
    assert (low, high) == (pytest.approx(0.025 - half), pytest.approx(0.025 + half))


def test_paired_interval_needs_two_pairs():
    mean, std, low, high = paired_t_interval([0.2])
    assert mean == 0.2 and math.isnan(std) and math.isnan(low) and math.isnan(high)
    assert all(math.isnan(v) for v in paired_t_interval([]))


# --------------------------------------------------------------------------- loading


def test_load_runs_builds_one_tidy_table(tmp_path):
    dirs = [write_run(tmp_path, "fedavg", 0.0, 0.5, 0, flat(0.5, 3)),
            write_run(tmp_path, "fedprox", 2.0, 0.5, 0, flat(0.6, 3))]
    rounds, runs = load_runs(dirs)
    assert tuple(rounds.columns) == TIDY_COLUMNS
    assert len(rounds) == 8 and len(runs) == 2
    assert set(rounds["variant"]) == {"FedAvg", "FedProx μ=2"}
    # "stragglers" is the cell's rate; the per-round count is renamed so both fit
    assert set(rounds["stragglers"]) == {0.5}
    assert "n_stragglers" in rounds.columns
    assert rounds.groupby("seed")["round"].min().tolist() == [0]
    assert math.isnan(rounds.loc[rounds["round"] == 0, "train_loss"].iloc[0])


# --------------------------------------------------------------------------- summary


def test_summary_mean_and_sample_std_over_seeds(tmp_path):
    # final accuracies 0.5, 0.6, 0.7 -> mean 0.6, sample std 0.1
    # final losses 1, 2, 3 -> mean 2, sample std 1
    dirs = [write_run(tmp_path, "fedprox", 0.0, 0.0, s, flat(acc, 3), losses=[2.0] * 3 + [loss])
            for s, (acc, loss) in enumerate([(0.5, 1.0), (0.6, 2.0), (0.7, 3.0)])]
    summary = summarize(*load_runs(dirs), name="syn")
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    row = summary.iloc[0]
    assert (row["name"], row["variant"], row["status"]) == ("syn", "FedProx μ=0", "ok")
    assert (row["n_seeds"], row["n_ok"], row["n_diverged"], row["rounds"]) == (3, 3, 0, 3)
    assert row["final_acc_mean"] == pytest.approx(0.6)
    assert row["final_acc_std"] == pytest.approx(0.1)
    assert row["final_loss_mean"] == pytest.approx(2.0)
    assert row["final_loss_std"] == pytest.approx(1.0)


def test_last10_is_mean_of_last_ten_rounds_per_seed_then_over_seeds(tmp_path):
    # R = 12; accuracy at round k is k/100 (seed 0) and k/100 + 0.1 (seed 1).
    # Last 10 rounds are 3..12: means 0.075 and 0.175 -> mean 0.125, std 0.1/sqrt(2).
    acc0 = [k / 100 for k in range(13)]
    acc1 = [a + 0.1 for a in acc0]
    dirs = [write_run(tmp_path, "fedprox", 2.0, 0.9, 0, acc0),
            write_run(tmp_path, "fedprox", 2.0, 0.9, 1, acc1)]
    row = summarize(*load_runs(dirs)).iloc[0]
    assert row["last10_acc_mean"] == pytest.approx(0.125)
    assert row["last10_acc_std"] == pytest.approx(0.1 / math.sqrt(2))
    assert row["final_acc_mean"] == pytest.approx(0.17)
    assert row["best_acc_mean"] == pytest.approx(0.17)


def test_last10_of_a_short_run_skips_the_initial_model(tmp_path):
    # R = 4 < 10: window is rounds 1..4, never round 0 (accuracy 0.9 here to make it visible)
    run = write_run(tmp_path, "fedavg", 0.0, 0.0, 0, [0.9, 0.2, 0.4, 0.6, 0.8])
    row = summarize(*load_runs([run])).iloc[0]
    assert row["last10_acc_mean"] == pytest.approx(0.5)
    assert row["best_acc_mean"] == pytest.approx(0.8)


def test_one_seed_has_nan_std_not_an_error(tmp_path):
    row = summarize(*load_runs([write_run(tmp_path, "fedavg", 0.0, 0.0, 0, flat(0.7, 2))])).iloc[0]
    assert row["final_acc_mean"] == pytest.approx(0.7)
    assert math.isnan(row["final_acc_std"]) and math.isnan(row["last10_acc_std"])


def test_paired_comparison_against_fedavg_at_same_straggler_rate(tmp_path):
    # FedAvg and FedProx mu=2 at 90 %: per-seed last-10 differences 0.01, 0.03, 0.02, 0.04
    fedavg = [0.50, 0.52, 0.48, 0.51]
    diffs = [0.01, 0.03, 0.02, 0.04]
    dirs = []
    for seed, (base, diff) in enumerate(zip(fedavg, diffs, strict=True)):
        dirs.append(write_run(tmp_path, "fedavg", 0.0, 0.9, seed, flat(base, 12)))
        dirs.append(write_run(tmp_path, "fedprox", 2.0, 0.9, seed, flat(base + diff, 12)))
    dirs.append(write_run(tmp_path, "fedprox", 2.0, 0.0, 0, flat(0.9, 12)))  # no FedAvg at 0 %
    summary = summarize(*load_runs(dirs))
    prox = cell_row(summary, "fedprox", 2.0, 0.9)
    half = 3.182446305284263 * math.sqrt(0.0005 / 3) / 2
    assert prox["paired_baseline"] == "FedAvg" and prox["n_pairs"] == 4
    assert prox["paired_diff_last10_mean"] == pytest.approx(0.025)
    assert prox["paired_ci_low"] == pytest.approx(0.025 - half)
    assert prox["paired_ci_high"] == pytest.approx(0.025 + half)
    base = cell_row(summary, "fedavg", 0.0, 0.9)
    assert base["n_pairs"] == 0 and math.isnan(base["paired_diff_last10_mean"])
    lonely = cell_row(summary, "fedprox", 2.0, 0.0)
    assert lonely["n_pairs"] == 0 and math.isnan(lonely["paired_ci_low"])

    table = paired_table(summary)
    assert list(table["Variant"]) == ["FedProx μ=2", "FedProx μ=2"]  # FedAvg rows left out
    at90 = table[table["Stragglers"] == "90%"].iloc[0]
    assert at90["Δ last-10 acc."] == "+0.0250"
    assert at90["95% CI"] == f"[{0.025 - half:+.4f}, {0.025 + half:+.4f}]"
    assert at90["Significant"] == "yes"


def test_diverged_runs_are_counted_not_averaged(tmp_path):
    inf = float("inf")
    dirs = [
        write_run(tmp_path, "fedavg", 0.0, 0.9, 0, flat(0.6, 3)),
        write_run(tmp_path, "fedavg", 0.0, 0.9, 1, flat(0.8, 3)),
        # diverged at round 2 (file stops there, loss not finite), configured for 3 rounds
        write_run(tmp_path, "fedavg", 0.0, 0.9, 2, [0.1, 0.3, 0.098], [2.3, 9.0, inf],
                  status="diverged", rounds=3),
        write_run(tmp_path, "fedprox", 2.0, 0.9, 0, flat(0.7, 3)),
        write_run(tmp_path, "fedprox", 2.0, 0.9, 2, flat(0.9, 3)),
    ]
    summary = summarize(*load_runs(dirs))
    row = cell_row(summary, "fedavg", 0.0, 0.9)
    assert (row["status"], row["n_seeds"], row["n_ok"], row["n_diverged"]) == ("partial", 3, 2, 1)
    assert row["final_acc_mean"] == pytest.approx(0.7)
    assert row["final_loss_mean"] == pytest.approx(0.3)  # finite: the inf never entered
    prox = cell_row(summary, "fedprox", 2.0, 0.9)
    assert prox["n_pairs"] == 1  # seed 0 only: seed 2's FedAvg diverged, seed 1 has no FedProx
    assert prox["paired_diff_last10_mean"] == pytest.approx(0.1)


def test_cell_where_every_seed_diverged_reports_diverged(tmp_path):
    nan = float("nan")
    dirs = [write_run(tmp_path, "fedprox", 0.0, 0.5, s, [0.1, nan], [2.3, nan],
                      status="diverged", rounds=5) for s in range(2)]
    row = summarize(*load_runs(dirs)).iloc[0]
    assert (row["status"], row["n_ok"], row["n_diverged"]) == ("diverged", 0, 2)
    assert math.isnan(row["final_acc_mean"]) and math.isnan(row["last10_acc_mean"])


# --------------------------------------------------------------------------- files, CLI


def without(columns: tuple[str, ...], column: str) -> tuple[str, ...]:
    return tuple(c for c in columns if c != column)


def test_aggregate_writes_tidy_rounds_summary_and_provenance(tmp_path):
    dirs = [write_run(tmp_path / "runs", "fedavg", 0.0, 0.0, s, flat(0.5, 2), wall=w)
            for s, w in [(0, 1.5), (1, 2.25)]]
    out = tmp_path / "reports" / "syn"
    paths = aggregate(dirs, out, name="syn")
    assert sorted(p.name for p in out.iterdir()) == ["provenance.json", "rounds.csv",
                                                     "summary.csv"]  # no temporary files left
    # no run has a partition: the files have no partition column (the tables of grids made
    # before partitions existed keep their bytes)
    rounds = pd.read_csv(paths["rounds"])
    assert tuple(rounds.columns) == without(TIDY_COLUMNS, "partition") and len(rounds) == 6
    assert set(rounds["name"]) == {"syn"}
    summary = pd.read_csv(paths["summary"])
    assert tuple(summary.columns) == without(SUMMARY_COLUMNS, "partition") and len(summary) == 1
    prov = json.loads(paths["provenance"].read_text())
    assert prov["n_runs"] == 2 and prov["total_compute_seconds"] == pytest.approx(3.75)
    assert prov["versions"]["flwr"] == ["1.42.0"] and prov["git_commits"] == ["abc123"]
    assert prov["seeds"] == [0, 1] and prov["variants"] == ["FedAvg"]
    assert len(prov["config_digests"]) == 2 and prov["created_at"]


def test_cli_aggregate(tmp_path, capsys):
    run = write_run(tmp_path, "fedavg", 0.0, 0.0, 0, flat(0.5, 2))
    out = tmp_path / "rep"
    assert main(["aggregate", "--name", "syn", "--out-dir", str(out), str(run)]) == 0
    assert (out / "summary.csv").is_file()
    assert main(["aggregate", "--name", "syn", "--out-dir", str(out),
                 str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "run directory not found" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "rounds.csv").unlink(), "rounds.csv: file not found"),
        (lambda d: (d / "rounds.csv").write_text(""), "rounds.csv: empty file"),
        (lambda d: (d / "rounds.csv").write_text("round,test_accuracy\n0,0.1\n"),
         "rounds.csv: missing column(s) test_loss"),
        (lambda d: (d / "rounds.csv").write_text(
            (d / "rounds.csv").read_text().replace("\n1,0.5,0.5,", "\n1,abc,0.5,", 1)),
         "rounds.csv: line 3: column 'test_loss' is not a number"),
        (lambda d: (d / "rounds.csv").write_text(
            "\n".join((d / "rounds.csv").read_text().splitlines()[:-1]) + "\n"),
         "rounds.csv: ends at round 1"),
        (lambda d: (d / "run.json").write_text("{not json"), "run.json: not valid JSON"),
        (lambda d: (d / "run.json").write_text('{"status": "ok"}'),
         "run.json: missing key 'config.name'"),
        (lambda d: (d / "run.json").write_text(
            (d / "run.json").read_text().replace('"ok"', '"weird"')),
         "run.json: status must be one of ok, diverged"),
    ],
    ids=["no-rounds", "empty", "missing-column", "not-a-number", "truncated", "bad-json",
         "missing-key", "bad-status"],
)
def test_unusable_input_names_the_file(tmp_path, damage, expected):
    run = write_run(tmp_path, "fedavg", 0.0, 0.0, 0, flat(0.5, 2))
    damage(run)
    with pytest.raises(UsageError) as err:
        load_runs([run])
    assert expected in str(err.value)
    assert str(run) in str(err.value)


def test_same_cell_and_seed_twice_is_an_error(tmp_path):
    first = write_run(tmp_path / "a", "fedavg", 0.0, 0.0, 0, flat(0.5, 2))
    second = write_run(tmp_path / "b", "fedavg", 0.0, 0.0, 0, flat(0.5, 2))
    with pytest.raises(UsageError, match="same cell and seed"):
        load_runs([first, second])

"""Spec of the CI regression check (`fedbench expected`, `fedbench check`,
fedbench.analysis.regression).

A reference is built from a measured summary; the check passes on that summary,
fails (exit 1, naming the cell) when a cell leaves its band or a published claim
breaks, and refuses unusable input with exit 2 and a message, never a traceback.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from fedbench.analysis.regression import (
    CLOSE_TOL,
    FLOOR,
    K,
    band_half_width,
    check,
    evaluate_claims,
    make_expected,
    meta_path,
    read_expected,
    read_summary,
)
from fedbench.cli import main
from fedbench.errors import UsageError

COLUMNS = ["name", "protocol", "algorithm", "mu", "stragglers", "variant", "n_seeds",
           "n_diverged", "rounds", "final_acc_mean", "final_acc_std", "last10_acc_mean",
           "last10_acc_std", "best_acc_mean", "final_loss_mean", "final_loss_std",
           "paired_diff_last10_mean", "paired_ci_low", "paired_ci_high", "n_pairs"]

# (algorithm, mu, stragglers) -> (last10 mean, last10 std, paired diff, ci low, ci high):
# shaped like the Flower baseline figure (FedAvg collapses at 90 % stragglers).
CELLS = {
    ("fedavg", 0.0, 0.0): (0.8200, 0.0100, None, None, None),
    ("fedprox", 0.0, 0.0): (0.8200, 0.0100, 0.0, 0.0, 0.0),
    ("fedprox", 2.0, 0.0): (0.8100, 0.0080, -0.0100, -0.0150, -0.0050),
    ("fedavg", 0.0, 0.5): (0.7800, 0.0200, None, None, None),
    ("fedprox", 0.0, 0.5): (0.8100, 0.0150, 0.0300, 0.0100, 0.0500),
    ("fedprox", 2.0, 0.5): (0.8300, 0.0100, 0.0500, 0.0300, 0.0700),
    ("fedavg", 0.0, 0.9): (0.6300, 0.0400, None, None, None),
    ("fedprox", 0.0, 0.9): (0.7900, 0.0200, 0.1600, 0.1200, 0.2000),
    ("fedprox", 2.0, 0.9): (0.8500, 0.0010, 0.2200, 0.1800, 0.2600),
}


def summary_rows(n_seeds: int = 5) -> list[dict]:
    rows = []
    for (alg, mu, sf), (mean, std, diff, low, high) in CELLS.items():
        variant = "FedAvg" if alg == "fedavg" else f"FedProx μ={mu:g}"
        nan = float("nan")
        rows.append({
            "name": "fedprox-mnist", "protocol": "flower-baseline", "algorithm": alg, "mu": mu,
            "stragglers": sf, "variant": variant, "n_seeds": n_seeds, "n_diverged": 0,
            "rounds": 100, "final_acc_mean": mean - 0.01, "final_acc_std": 2 * std,
            "last10_acc_mean": mean, "last10_acc_std": std, "best_acc_mean": mean + 0.02,
            "final_loss_mean": 0.3, "final_loss_std": 0.02,
            "paired_diff_last10_mean": nan if diff is None else diff,
            "paired_ci_low": nan if low is None else low,
            "paired_ci_high": nan if high is None else high,
            "n_pairs": nan if diff is None else n_seeds,
        })
    return rows


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def set_cell(rows: list[dict], alg: str, mu: float, sf: float, **values) -> list[dict]:
    for row in rows:
        if (row["algorithm"], row["mu"], row["stragglers"]) == (alg, mu, sf):
            row.update(values)
            return rows
    raise KeyError((alg, mu, sf))


@pytest.fixture
def reference(tmp_path: Path) -> tuple[Path, Path]:
    """A measured summary and the reference `fedbench expected` built from it."""
    summary = write_csv(tmp_path / "summary.csv", summary_rows())
    out = tmp_path / "expected" / "fedprox-mnist.csv"
    assert main(["expected", "--summary", str(summary), "--out", str(out)]) == 0
    return summary, out


def run_check(summary: Path, expected: Path) -> int:
    return main(["check", "--summary", str(summary), "--expected", str(expected)])


# --------------------------------------------------------------------------- band rule


def test_band_is_k_standard_deviations_of_a_difference_of_means() -> None:
    # std 0.02 over 5 seeds: 3 * 0.02 * sqrt(2/5) = 0.06 * 0.632456 = 0.0379473
    assert band_half_width(0.02, 5) == pytest.approx(0.0379473, abs=1e-7)
    # std 0.04 over 5 seeds: 3 * 0.04 * 0.632456 = 0.0758947
    assert band_half_width(0.04, 5) == pytest.approx(0.0758947, abs=1e-7)
    # std 0.01 over 2 seeds: 3 * 0.01 * 1 = 0.03
    assert band_half_width(0.01, 2) == pytest.approx(0.03)
    assert (K, FLOOR) == (3.0, 0.005)


def test_band_never_narrower_than_the_floor() -> None:
    # 3 * 0.001 * 0.632456 = 0.0019 < 0.005
    assert band_half_width(0.001, 5) == FLOOR
    assert band_half_width(0.0, 5) == FLOOR
    assert band_half_width(0.001, 5, k=3, floor=0.01) == 0.01


def test_band_needs_a_measured_spread() -> None:
    with pytest.raises(ValueError, match="at least 2 seeds"):
        band_half_width(0.01, 1)
    with pytest.raises(ValueError, match="finite"):
        band_half_width(float("nan"), 5)


def test_make_expected_one_row_per_cell_with_spread_and_band() -> None:
    exp = make_expected(pd.DataFrame(summary_rows()), {"git_commit": "abc"})
    assert len(exp.cells) == 9
    row = exp.cells.query("algorithm == 'fedavg' and stragglers == 0.9").iloc[0]
    assert (row["metric"], row["expected"], row["std"], row["n"]) == (
        "last10_acc_mean", 0.63, 0.04, 5)
    assert row["band"] == pytest.approx(0.0758947, abs=1e-7)
    tight = exp.cells.query("algorithm == 'fedprox' and mu == 2 and stragglers == 0.9").iloc[0]
    assert tight["band"] == FLOOR
    assert exp.meta["git_commit"] == "abc"
    assert (exp.meta["k"], exp.meta["floor"], exp.meta["metric"]) == (K, FLOOR, "last10_acc_mean")
    assert "sqrt(2 / n)" in exp.meta["band_rule"]


def test_make_expected_counts_only_non_diverged_seeds() -> None:
    rows = set_cell(summary_rows(), "fedavg", 0.0, 0.9, n_diverged=3)
    exp = make_expected(pd.DataFrame(rows), {})
    row = exp.cells.query("algorithm == 'fedavg' and stragglers == 0.9").iloc[0]
    assert row["n"] == 2
    assert row["band"] == pytest.approx(3 * 0.04 * 1.0)  # sqrt(2/2) = 1


def test_make_expected_refuses_a_cell_without_measurable_spread() -> None:
    with pytest.raises(UsageError, match=r"fedavg sf=0\.9.*at least 2"):
        make_expected(pd.DataFrame(set_cell(summary_rows(), "fedavg", 0.0, 0.9, n_seeds=1)), {})
    with pytest.raises(UsageError, match="n_seeds"):
        make_expected(pd.DataFrame(summary_rows()).drop(columns=["n_seeds"]), {})


# --------------------------------------------------------------------------- fedbench expected


def test_expected_writes_csv_and_provenance(reference: tuple[Path, Path]) -> None:
    _, out = reference
    table = pd.read_csv(out)
    assert list(table.columns[:10]) == ["protocol", "algorithm", "mu", "stragglers", "variant",
                                        "metric", "expected", "std", "n", "band"]
    assert len(table) == 9
    meta = json.loads(meta_path(out).read_text())
    assert meta_path(out).name == "fedprox-mnist.meta.json"
    for key in ("fedbench_version", "git_commit", "seeds", "created", "band_rule", "k", "floor",
                "summary_sha256"):
        assert key in meta
    assert meta["name"] == "fedprox-mnist"


def test_expected_records_seeds_from_the_config(tmp_path: Path) -> None:
    summary = write_csv(tmp_path / "summary.csv", summary_rows())
    out = tmp_path / "ref.csv"
    config = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    assert main(["expected", "--summary", str(summary), "--out", str(out),
                 "--config", str(config)]) == 0
    assert json.loads(meta_path(out).read_text())["seeds"] == [0, 1, 2, 3, 4]


def test_expected_never_overwrites_without_force(reference: tuple[Path, Path], capsys) -> None:
    summary, out = reference
    before = out.read_text()
    capsys.readouterr()
    args = ["expected", "--summary", str(summary), "--out", str(out)]
    assert main([*args, "--k", "5"]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == before
    assert main([*args, "--k", "5", "--force"]) == 0
    assert out.read_text() != before
    assert json.loads(meta_path(out).read_text())["k"] == 5.0


# --------------------------------------------------------------------------- fedbench check


def test_check_passes_on_the_summary_the_reference_came_from(reference, capsys) -> None:
    summary, out = reference
    capsys.readouterr()
    assert run_check(summary, out) == 0
    printed = capsys.readouterr().out
    assert "OK: 9 cell(s) inside their band, 8 claim(s) hold" in printed  # 3 published, 5 measured
    assert "flower-baseline/fedprox mu=2 sf=0.9" in printed  # every cell is listed
    assert "FAIL" not in printed


def test_check_tolerates_a_move_inside_the_band(reference, tmp_path: Path) -> None:
    _, out = reference
    # FedAvg at 90 %: band 0.0759; a drop of 0.05 is seed noise, not a regression
    moved = set_cell(summary_rows(), "fedavg", 0.0, 0.9, last10_acc_mean=0.58)
    assert run_check(write_csv(tmp_path / "moved.csv", moved), out) == 0


def test_check_fails_and_names_the_cell_outside_its_band(reference, tmp_path, capsys) -> None:
    _, out = reference
    # FedProx mu=2 at 90 %: band is the floor 0.005; 0.85 -> 0.84 is outside
    moved = set_cell(summary_rows(), "fedprox", 2.0, 0.9, last10_acc_mean=0.84)
    capsys.readouterr()
    assert run_check(write_csv(tmp_path / "moved.csv", moved), out) == 1
    err = capsys.readouterr().err
    assert "FAIL: 1 of 9 cell(s) outside their band" in err
    failing = err.split("FAIL:")[1]
    assert "flower-baseline/fedprox mu=2 sf=0.9" in failing
    assert "-0.0100" in failing and "±0.0050" in failing and "0.8500" in failing
    assert "fedavg sf=0.9" not in failing


def test_check_fails_on_a_cell_with_more_diverged_seeds(reference, tmp_path, capsys) -> None:
    _, out = reference
    rows = set_cell(summary_rows(), "fedavg", 0.0, 0.5, n_diverged=1)
    assert run_check(write_csv(tmp_path / "div.csv", rows), out) == 1
    assert "1 diverged seed(s), reference 0" in capsys.readouterr().err


def test_check_lists_but_does_not_fail_on_cells_without_a_reference(reference, tmp_path,
                                                                    capsys) -> None:
    _, out = reference
    rows = summary_rows()
    rows.append({**rows[-1], "mu": 1.0, "variant": "FedProx μ=1"})
    capsys.readouterr()
    assert run_check(write_csv(tmp_path / "extra.csv", rows), out) == 0
    assert "unchecked): flower-baseline/fedprox mu=1 sf=0.9" in capsys.readouterr().out


# --------------------------------------------------------------------------- unusable input: exit 2


def test_summary_missing_a_reference_cell_is_unusable(reference, tmp_path, capsys) -> None:
    _, out = reference
    rows = [r for r in summary_rows() if (r["algorithm"], r["stragglers"]) != ("fedavg", 0.5)]
    capsys.readouterr()
    assert run_check(write_csv(tmp_path / "partial.csv", rows), out) == 2
    err = capsys.readouterr().err
    assert "summary lacks 1 cell(s) of the reference: flower-baseline/fedavg sf=0.5" in err
    assert "Traceback" not in err


def test_expected_with_a_non_numeric_value_is_unusable(reference, capsys) -> None:
    summary, out = reference
    lines = out.read_text().splitlines(keepends=True)
    fields = lines[3].split(",")
    fields[6] = "high"  # the `expected` column of the third data row
    lines[3] = ",".join(fields)
    out.write_text("".join(lines))
    capsys.readouterr()
    assert run_check(summary, out) == 2
    err = capsys.readouterr().err
    assert f"{out}, line 4: column 'expected' is not a number: 'high'" in err


def test_expected_with_a_short_row_is_unusable(reference, capsys) -> None:
    summary, out = reference
    with out.open("a") as f:
        f.write("flower-baseline,fedavg,0.0\n")
    capsys.readouterr()
    assert run_check(summary, out) == 2
    assert "line 11: 3 field(s), the header has 14" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["summary", "expected"])
def test_missing_file_is_unusable(reference, tmp_path, capsys, which) -> None:
    summary, out = reference
    gone = tmp_path / "nowhere.csv"
    capsys.readouterr()
    args = (gone, out) if which == "summary" else (summary, gone)
    assert run_check(*args) == 2
    assert f"{which} file not found: {gone}" in capsys.readouterr().err


def test_summary_missing_a_column_is_unusable(reference, tmp_path, capsys) -> None:
    _, out = reference
    columns = [c for c in COLUMNS if c != "last10_acc_mean"]
    capsys.readouterr()
    assert run_check(write_csv(tmp_path / "s.csv", summary_rows(), columns), out) == 2
    assert "missing column(s) last10_acc_mean" in capsys.readouterr().err


def test_summary_with_other_seed_count_is_unusable(reference, tmp_path, capsys) -> None:
    _, out = reference
    capsys.readouterr()
    assert run_check(write_csv(tmp_path / "s3.csv", summary_rows(n_seeds=3)), out) == 2
    assert "summary has 3 seeds, the reference 5" in capsys.readouterr().err


def test_expected_reader_ignores_comments_and_needs_no_meta(reference) -> None:
    summary, out = reference
    meta_path(out).unlink()
    out.write_text("# hand-annotated reference\n" + out.read_text())
    exp = read_expected(out)
    assert exp.meta == {}
    assert check(read_summary(summary), exp).ok


def test_malformed_meta_file_is_unusable(reference, capsys) -> None:
    summary, out = reference
    meta_path(out).write_text("{not json")
    capsys.readouterr()
    assert run_check(summary, out) == 2
    assert "not readable JSON" in capsys.readouterr().err


# --------------------------------------------------------------------------- published claims


def claims_by_cell(rows: list[dict], close_tol: float = CLOSE_TOL) -> dict[tuple[str, str], bool]:
    return {(c.claim, c.cell): c.ok for c in evaluate_claims(pd.DataFrame(rows), close_tol)}


def test_claims_hold_when_fedprox_beats_fedavg_at_90_and_ties_at_0() -> None:
    claims = claims_by_cell(summary_rows())
    assert claims == {
        ("fedprox-beats-fedavg", "flower-baseline/fedprox mu=2 sf=0.9"): True,
        ("close-at-0", "flower-baseline/fedprox mu=0 sf=0"): True,
        ("close-at-0", "flower-baseline/fedprox mu=2 sf=0"): True,
    }  # FedProx mu=0 at 90 % is not a claim (mu > 0 only); nothing is claimed at 50 %


def test_fedprox_losing_to_fedavg_at_90_fails_the_claim(reference, tmp_path, capsys) -> None:
    _, out = reference
    rows = set_cell(summary_rows(), "fedprox", 2.0, 0.9, paired_diff_last10_mean=-0.01,
                    paired_ci_low=-0.03, paired_ci_high=0.01)
    assert not claims_by_cell(rows)[("fedprox-beats-fedavg", "flower-baseline/fedprox mu=2 sf=0.9")]
    capsys.readouterr()
    assert run_check(write_csv(tmp_path / "rev.csv", rows), out) == 1
    err = capsys.readouterr().err
    assert "2 of 8 claim(s) failed" in err  # the published claim and the measured one
    assert "fedprox-beats-fedavg" in err and "CI low must be > 0" in err


def test_beats_claim_needs_the_whole_ci_above_zero() -> None:
    rows = set_cell(summary_rows(), "fedprox", 2.0, 0.9, paired_diff_last10_mean=0.02,
                    paired_ci_low=-0.001, paired_ci_high=0.04)
    assert not claims_by_cell(rows)[("fedprox-beats-fedavg", "flower-baseline/fedprox mu=2 sf=0.9")]


def test_beats_claim_with_one_pair_uses_the_point_difference() -> None:
    key = ("fedprox-beats-fedavg", "flower-baseline/fedprox mu=2 sf=0.9")
    one = dict(n_pairs=1, paired_ci_low=float("nan"), paired_ci_high=float("nan"))
    assert claims_by_cell(set_cell(summary_rows(), "fedprox", 2.0, 0.9, **one))[key]
    lost = set_cell(summary_rows(), "fedprox", 2.0, 0.9, paired_diff_last10_mean=-0.01, **one)
    assert not claims_by_cell(lost)[key]


def test_close_at_0_tolerance() -> None:
    key = ("close-at-0", "flower-baseline/fedprox mu=2 sf=0")
    at_tol = set_cell(summary_rows(), "fedprox", 2.0, 0.0, paired_diff_last10_mean=-CLOSE_TOL)
    assert claims_by_cell(at_tol)[key]
    apart = set_cell(summary_rows(), "fedprox", 2.0, 0.0,
                     paired_diff_last10_mean=-(CLOSE_TOL + 0.001))
    assert not claims_by_cell(apart)[key]
    assert claims_by_cell(apart, close_tol=CLOSE_TOL + 0.01)[key]


def test_claims_apply_only_when_fedavg_is_in_the_summary() -> None:
    rows = [r for r in summary_rows() if r["algorithm"] != "fedavg"]
    assert evaluate_claims(pd.DataFrame(rows)) == []


def test_claim_with_no_common_seeds_fails_rather_than_passing() -> None:
    rows = set_cell(summary_rows(), "fedprox", 2.0, 0.9, n_pairs=0,
                    paired_diff_last10_mean=float("nan"), paired_ci_low=float("nan"))
    [claim] = [c for c in evaluate_claims(pd.DataFrame(rows)) if c.claim == "fedprox-beats-fedavg"]
    assert not claim.ok and math.isnan(claim.value) and "no common seeds" in claim.detail


# --------------------------------------------------------------------------- measured claims


def test_a_significant_difference_becomes_a_claim_of_the_reference(reference, tmp_path,
                                                                    capsys) -> None:
    """`fedbench expected` records the sign of every paired difference whose 95 % CI
    excludes 0; `fedbench check` then fails when that difference is no longer significant
    in the same direction, even if every cell stays inside its band."""
    summary, expected = reference
    with expected.open() as f:
        signs = {(r["algorithm"], float(r["mu"]), float(r["stragglers"])): r["paired_sign"]
                 for r in csv.DictReader(f)}
    for key, (_mean, _std, _diff, low, high) in CELLS.items():
        want = "+" if low is not None and low > 0 else "-" if high is not None and high < 0 \
            else ""
        assert signs[key] == want, key
    significant = [k for k, s in signs.items() if s]
    assert significant, "the fixture has significant cells"
    assert run_check(summary, expected) == 0

    alg, mu, sf = significant[0]
    moved = set_cell(summary_rows(), alg, mu, sf, paired_ci_low=-0.01, paired_ci_high=0.2)
    assert run_check(write_csv(tmp_path / "moved.csv", moved), expected) == 1
    err = capsys.readouterr().err
    assert "measured-vs-fedavg" in err and "measured +" in err

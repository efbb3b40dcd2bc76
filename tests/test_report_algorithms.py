"""The report of a grid comparing several algorithms: the Algorithms section (which algorithms keep
the stragglers' partial work), FedNova's claim against FedProx μ=0 (paired differences per
straggler rate with t intervals, and the curves), the forest plot per straggler rate, and the
sweep of an algorithm's param (a tuning grid: last-10 accuracy against the server learning rate,
best values marked)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from fedbench.analysis.partial_work import (
    partial_work_average,
    partial_work_differences,
    partial_work_pairs,
)
from fedbench.analysis.statistics import paired_t_interval
from fedbench.analysis.summary import load_reports
from fedbench.analysis.sweeps import Sweep, best_values, find_sweeps
from fedbench.apps.results import ROUND_COLUMNS
from fedbench.cli import main
from fedbench.config import variant_id
from tests.conftest import write_run_json

ROUNDS = 12
SEEDS = (0, 1, 2)


def plateau(algorithm: str, mu: float, params: dict, stragglers: float, seed: int) -> float:
    """Where a fake run's accuracy levels off: FedAvg loses to stragglers; FedNova gains over
    FedProx μ=0 with stragglers (by seed-dependent amounts, so the pairs have a spread);
    FedAdam is best at server_lr=0.01."""
    level = 0.8 + 0.01 * seed
    if algorithm == "fedavg":
        level -= 0.2 * stragglers
    if algorithm == "fednova":
        level += stragglers * (0.05 + 0.004 * seed * seed)
    if algorithm == "fedadam":
        level -= 0.05 * abs(math.log10(params["server_lr"]) + 2)
    return level + 0.01 * mu


def write_run(root: Path, protocol: str, algorithm: str, mu: float, stragglers: float, seed: int,
              params: dict | None = None, train_loss: bool = False) -> Path:
    params = params or {}
    top = plateau(algorithm, mu, params, stragglers, seed)
    lines = [",".join(ROUND_COLUMNS)]
    for rnd in range(ROUNDS + 1):
        acc = 0.1 + (top - 0.1) * (1 - 0.6 ** rnd) + 0.002 * ((5 * rnd + seed) % 3)
        loss = 2.3 * (1 - acc) + 0.2
        global_loss = repr(0.9 * loss) if train_loss else "nan"
        lines.append(f"{rnd},{loss!r},{acc!r},10,{int(10 * stragglers)},0,0,500,0.4,"
                     f"{global_loss},0.05")
    cell = f"{variant_id(algorithm, mu, params)}-sf{stragglers}"
    run_dir = root / protocol / cell / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "algos", "protocol": protocol, "algorithm": algorithm, "mu": mu,
              "params": params, "stragglers": stragglers, "seed": seed,
              "federation": {"num_clients": 1000, "clients_per_round": 10, "rounds": ROUNDS},
              "training": {"model": "logreg", "local_epochs": 10, "batch_size": 10, "lr": 0.03,
                           "weight_decay": 0.001}}
    write_run_json(run_dir, config, status="ok", config_digest=f"{protocol}{algorithm}{mu}",
                   final={"round": ROUNDS})
    return run_dir


def _build(root: Path, runs: list[Path], name: str) -> dict:
    reports = root / "reports"
    assert main(["aggregate", "--name", name, "--out-dir", str(reports), *map(str, runs)]) == 0
    config = root / f"{name}.yaml"
    config.write_text(f"name: {name}\n")
    assert main(["report", "--name", name, "--config", str(config), "--reports-dir",
                 str(reports)]) == 0
    pages = [p.extract_text() for p in PdfReader(reports / "report.pdf").pages]
    return {"reports": reports, "pages": pages, "text": " ".join(" ".join(pages).split())}


VARIANTS = (("fedavg", 0.0, {}), ("fedprox", 0.0, {}), ("fednova", 0.0, {}),
            ("scaffold", 0.0, {}), ("fedadam", 0.0, {"server_lr": 0.01}))


@pytest.fixture(scope="module")
def algos(tmp_path_factory) -> dict:
    """Five algorithms × γ ∈ {0, 0.9} × 3 seeds on flower-baseline (central evaluation: no
    training loss) and on synthetic-1-1 (federated: a training loss over all clients)."""
    root = tmp_path_factory.mktemp("algos")
    runs = [write_run(root / "results", protocol, a, m, sf, seed, p,
                      train_loss=protocol == "synthetic-1-1")
            for protocol in ("flower-baseline", "synthetic-1-1") for a, m, p in VARIANTS
            for sf in (0.0, 0.9) for seed in SEEDS]
    return _build(root, runs, "algos")


def test_the_algorithms_section_lists_what_each_does_with_stragglers(algos) -> None:
    text = algos["text"]
    assert ("In this grid FedAvg drops them; FedAdam, FedNova, FedProx, SCAFFOLD keep their "
            "partial work.") in text
    assert "FedAdam partial work kept server_lr (η) = 0.01; defaults: beta1 (β₁) = 0.9" in text
    assert "SCAFFOLD partial work kept defaults: server_lr (η_g) = 1 Karimireddy et al." in text


def test_the_forest_plot_has_a_panel_per_straggler_rate(algos) -> None:
    at = next(i for i, p in enumerate(algos["pages"]) if "Paired comparison" in p)
    page = " ".join(algos["pages"][at:at + 2])  # a long table puts the plot on the next page
    for title in ("flower-baseline, 0% stragglers", "flower-baseline, 90% stragglers",
                  "synthetic-1-1, 90% stragglers", "SCAFFOLD", "FedAdam (server_lr=0.01)"):
        assert title in page, title


def test_fednova_s_claim_is_measured_against_fedprox_mu0(algos) -> None:
    text = algos["text"]
    assert "Objective inconsistency: FedNova against FedProx μ=0" in text
    assert "The claim. When clients run unequal numbers of local steps" in text
    assert "(Source: Wang et al., NeurIPS 2020" in text
    assert "the figure is described here only qualitatively" in text
    # the 90 % row of flower-baseline's last-10 accuracy, computed here from the fake runs
    diffs, means = [], []
    for seed in SEEDS:
        ours = [0.1 + (plateau("fednova", 0.0, {}, 0.9, seed) - 0.1) * (1 - 0.6 ** r)
                + 0.002 * ((5 * r + seed) % 3) for r in range(3, ROUNDS + 1)]
        theirs = [0.1 + (plateau("fedprox", 0.0, {}, 0.9, seed) - 0.1) * (1 - 0.6 ** r)
                  + 0.002 * ((5 * r + seed) % 3) for r in range(3, ROUNDS + 1)]
        diffs.append(sum(ours) / len(ours) - sum(theirs) / len(theirs))
        means.append((sum(ours) / len(ours), sum(theirs) / len(theirs)))
    mean, _std, low, high = paired_t_interval(diffs)
    nova, prox = (sum(m[k] for m in means) / len(SEEDS) for k in (0, 1))
    assert (f"90% last-10 accuracy 3 {nova:.4f} {prox:.4f} {mean:+.4f} [{low:+.4f}, "
            f"{high:+.4f}] FedNova") in text
    assert ("flower-baseline: last-10 accuracy: FedNova better at 90%; not told apart at "
            "0%. final test loss: FedNova better at 90%") in text
    # the training loss where the protocol has it (synthetic-1-1), not for flower-baseline
    assert "synthetic-1-1 90% final training loss 3" in text
    assert "flower-baseline 90% final training loss" not in text
    assert (algos["reports"] / "figures" / "partial_work.png").stat().st_size > 0
    at = next(i for i, p in enumerate(algos["pages"]) if "Objective inconsistency" in p)
    page = " ".join(algos["pages"][at:at + 2])
    assert "training loss (all clients)" in page and "test accuracy" in page


def test_partial_work_differences_pair_seeds_and_metrics(algos) -> None:
    rounds, summary, _prov = load_reports(algos["reports"])
    diffs = partial_work_differences(rounds, summary)
    assert set(diffs["claimant"]) == {"FedNova"} and set(diffs["reference"]) == {"FedProx μ=0"}
    row = diffs[(diffs["protocol"] == "synthetic-1-1") & (diffs["stragglers"] == 0.9)
                & (diffs["metric"] == "final training loss")].iloc[0]
    final = rounds[(rounds["round"] == ROUNDS) & (rounds["protocol"] == "synthetic-1-1")
                   & (rounds["stragglers"] == 0.9)]
    per_seed = [float(final[(final["algorithm"] == "fednova") & (final["seed"] == s)]
                      ["global_train_loss"].iloc[0]
                      - final[(final["algorithm"] == "fedprox") & (final["seed"] == s)]
                      ["global_train_loss"].iloc[0]) for s in SEEDS]
    assert row["n_pairs"] == 3
    assert row["diff_mean"] == pytest.approx(sum(per_seed) / 3, abs=1e-12)
    assert row["favours"] == "FedNova"  # lower training loss


def test_the_claim_needs_fedprox_mu0_found_through_the_registry() -> None:
    assert partial_work_average() is not None and partial_work_average().uses_mu
    assert not partial_work_average().drop_stragglers
    both = [("fednova", 0.0, 0.9), ("fedprox", 0.0, 0.9)]
    assert [p.claimant_label for p in partial_work_pairs(both)] == ["FedNova"]
    assert partial_work_pairs([("fednova", 0.0, 0.9), ("fedprox", 2.0, 0.9)]) == []
    assert partial_work_pairs([("fednova", 0.0, 0.5), ("fedprox", 0.0, 0.9)]) == []
    assert partial_work_pairs([("fedavg", 0.0, 0.9), ("fedprox", 0.0, 0.9)]) == []


# --------------------------------------------------------------------------- a tuning grid

LRS = (0.001, 0.01, 0.1)


@pytest.fixture(scope="module")
def tuning(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tuning")
    variants = [("fedavg", 0.0, {})] + [("fedadam", 0.0, {"server_lr": lr}) for lr in LRS]
    runs = [write_run(root / "results", "flower-baseline", a, m, sf, seed, p)
            for a, m, p in variants for sf in (0.0, 0.9) for seed in SEEDS]
    return _build(root, runs, "tuning")


def test_a_params_sweep_gets_its_page_and_figure(tuning) -> None:
    text = tuning["text"]
    assert "server_lr sweep: last-10 accuracy against server_lr" in text
    assert "server_lr: η, the server learning rate (log scale)" in text  # the figure's axis
    assert "FedAvg, same straggler rate (no server_lr)" in text
    assert "best value of a line (highest mean)" in text
    assert "Objective inconsistency" not in text and "μ sweep" not in text
    for ext in ("png", "pdf"):
        assert (tuning["reports"] / "figures" / f"server_lr_sweep.{ext}").stat().st_size > 0
    summary = pd.read_csv(tuning["reports"] / "summary.csv")
    best = summary[(summary["algorithm"] == "fedadam") & (summary["params"] == "server_lr=0.01")]
    at0, at9 = (float(best[best["stragglers"] == s]["last10_acc_mean"].iloc[0])
                for s in (0.0, 0.9))
    # best value at each rate and over both (its accuracy averaged over the rates)
    assert (f"FedAdam 0.01 ({at0:.3f}) 0.01 ({at9:.3f}) 0.01 ({(at0 + at9) / 2:.3f})") in text
    row = best[best["stragglers"] == 0.9].iloc[0]
    assert (f"90% FedAdam 0.01 3/3 {row.last10_acc_mean:.3f} ± {row.last10_acc_std:.3f} "
            f"{row.paired_diff_last10_mean:+.3f}") in text


def test_sweeps_are_found_per_setting_with_the_others_fixed() -> None:
    cells = [("fedadam", 0.0, 0.9, {"server_lr": lr}) for lr in LRS]
    fixed = (("beta1", 0.9), ("beta2", 0.99), ("tau", 0.001))
    assert find_sweeps(cells) == [Sweep("fedadam", "server_lr", 0.9, fixed)]
    assert find_sweeps(cells[:2]) == []  # two values are no sweep
    # {} is the default server_lr (0.01): with 0.001 and 0.1 it makes three values
    assert len(find_sweeps([("fedadam", 0.0, 0.9, {}), *cells[::2]])) == 1
    # a different beta1 is another line, not a fourth value
    other = [("fedadam", 0.0, 0.9, {"server_lr": 0.01, "beta1": 0.5})]
    assert find_sweeps(cells[:2] + other) == []
    assert [s.param for s in find_sweeps([("fedprox", m, 0.5) for m in (0.0, 0.1, 1.0)])] == [
        "mu"]


def test_best_values_per_rate_and_over_the_rates() -> None:
    rows = [{"protocol": "p", "algorithm": "fedadam", "mu": 0.0, "stragglers": sf,
             "params": f"server_lr={lr:g}", "last10_acc_mean": acc}
            for sf, lr, acc in ((0.0, 0.001, 0.80), (0.0, 0.01, 0.79), (0.0, 0.1, 0.5),
                                (0.9, 0.001, 0.60), (0.9, 0.01, 0.75), (0.9, 0.1, 0.5))]
    summary = pd.DataFrame(rows)
    best = best_values(summary, find_sweeps([("fedadam", 0.0, r["stragglers"],
                                               r["params"]) for r in rows]))
    per_rate = best[best["stragglers"].notna()]
    assert list(per_rate["value"]) == [0.001, 0.01]
    overall = best[best["stragglers"].isna()].iloc[0]
    assert overall["value"] == 0.01 and overall["n_rates"] == 2
    assert overall["last10_acc"] == pytest.approx((0.79 + 0.75) / 2)


def test_a_config_whose_variants_have_params_finds_its_runs(tmp_path: Path) -> None:
    """The Setup section compares the config's grid with the runs by variant label, params
    included: a tuning grid is not reported as missing its runs."""
    runs = [write_run(tmp_path / "results", "flower-baseline", a, 0.0, 0.9, seed, p)
            for a, p in (("fedavg", {}), ("fedadam", {"server_lr": 0.01})) for seed in (0, 1)]
    reports = tmp_path / "reports"
    assert main(["aggregate", "--name", "p", "--out-dir", str(reports), *map(str, runs)]) == 0
    config = tmp_path / "p.yaml"
    config.write_text(
        "name: p\nprotocol: flower-baseline\nfederation: {num_clients: 1000, "
        "clients_per_round: 10, rounds: 12}\ntraining: {model: logreg, local_epochs: 10, "
        "batch_size: 10, lr: 0.03, weight_decay: 0.001}\ngrid:\n  variants: [{algorithm: "
        "fedavg}, {algorithm: fedadam, params: {server_lr: 0.01}}]\n  stragglers: [0.9]\n"
        "  seeds: [0, 1]\n")
    assert main(["report", "--name", "p", "--config", str(config), "--reports-dir",
                 str(reports)]) == 0
    text = " ".join(p.extract_text() for p in PdfReader(reports / "report.pdf").pages)
    assert "missing" not in text and "not in the config's grid" not in text

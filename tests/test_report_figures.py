"""The report's figures beyond the curves: the μ sweep (last-10 accuracy against μ with seed
bands), the forest plot beside the paired comparison, published values drawn on the accuracy
charts, and a settings grid's pages filled (no page 2 left nearly empty)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from pypdf import PdfReader

from fedbench.cli import main
from fedbench.report import figures
from tests.test_fedavg_mcmahan import _rising, write_mcmahan_run
from tests.test_report_sections import write_run
from tests.test_workflow import REPO, job_counts, output_of, snakemake

SWEEP = (0.0, 0.01, 0.1, 1.0)
SWEEP_VARIANTS = (("fedavg", 0.0), *(("fedprox", mu) for mu in SWEEP))


def _report(root: Path, variants, stragglers, seeds=(0, 1, 2)) -> dict:
    runs = [write_run(root / "results", "flower-baseline", a, m, sf, seed)
            for a, m in variants for sf in stragglers for seed in seeds]
    reports = root / "reports"
    assert main(["aggregate", "--name", "sweep", "--out-dir", str(reports),
                 *map(str, runs)]) == 0
    config = root / "sweep.yaml"
    config.write_text("name: sweep\n")
    assert main(["report", "--name", "sweep", "--config", str(config), "--reports-dir",
                 str(reports)]) == 0
    pages = [p.extract_text() for p in PdfReader(reports / "report.pdf").pages]
    return {"reports": reports, "pages": pages, "text": " ".join(" ".join(pages).split()),
            "summary": pd.read_csv(reports / "summary.csv")}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict:
    return _report(tmp_path_factory.mktemp("sweep"), SWEEP_VARIANTS, (0.9,))


@pytest.fixture(scope="module")
def no_sweep(tmp_path_factory) -> dict:
    variants = (("fedavg", 0.0), ("fedprox", 0.0), ("fedprox", 2.0))
    return _report(tmp_path_factory.mktemp("nosweep"), variants, (0.0, 0.9), seeds=(0, 1))


def test_a_mu_sweep_gets_its_figure_in_the_pdf_and_as_a_file(sweep) -> None:
    text = sweep["text"]
    assert "μ sweep: last-10 accuracy against μ" in text
    assert "proximal weight μ (symmetric log scale)" in text  # the figure's axis, in the PDF
    assert "FedProx (mean ± 1 std over seeds)" in text  # the figure's legend
    assert "FedAvg, same straggler rate (no μ)" in text  # the baseline beside the sweep
    assert "one seed" in text and "90% stragglers" in text
    for ext in ("png", "pdf"):
        assert (sweep["reports"] / "figures" / f"mu_sweep.{ext}").stat().st_size > 0
    summary = sweep["summary"]
    row = summary[(summary["algorithm"] == "fedprox") & (summary["mu"] == 0.1)].iloc[0]
    assert (f"90% FedProx 0.1 3/3 {row.last10_acc_mean:.3f} ± {row.last10_acc_std:.3f} "
            f"{row.paired_diff_last10_mean:+.3f}") in text  # the sweep's table


def test_one_straggler_rate_puts_the_variants_on_the_x_axis(sweep) -> None:
    assert "variant (90% stragglers)" in sweep["text"]


def test_a_grid_with_two_mu_values_draws_no_sweep(no_sweep) -> None:
    assert "μ sweep" not in no_sweep["text"]
    assert not (no_sweep["reports"] / "figures" / "mu_sweep.png").exists()
    assert "straggler rate" in no_sweep["text"]


def test_mu_sweeps_need_three_mu_values_of_an_algorithm_with_a_proximal_term() -> None:
    assert figures.mu_sweeps([("fedprox", m, 0.9) for m in (0.0, 1.0)]) == []
    assert figures.mu_sweeps([("fedprox", m, 0.9) for m in (0.0, 0.1, 1.0)]) == [("fedprox", 0.9)]
    assert figures.mu_sweeps([("fedavg", 0.0, s) for s in (0.0, 0.5, 0.9)]) == []
    assert figures.extra_figure_names(["flower-baseline"],
                                      [("fedprox", m, 0.5) for m in SWEEP]) == ["mu_sweep"]


def test_the_paired_comparison_has_a_forest_plot(no_sweep) -> None:
    pages = no_sweep["pages"]
    page = next(p for p in pages if "Paired comparison" in p)
    assert "Δ last-10 accuracy vs FedAvg (paired by seed; line: 95 % t interval)" in page
    # one panel per straggler rate, its rows the table's variants
    assert "0% stragglers" in page and "90% stragglers" in page
    assert "FedProx μ=2" in page


def _flower_summary(rounds: int) -> pd.DataFrame:
    rows = [{"protocol": "flower-baseline", "algorithm": a, "mu": m, "stragglers": s,
             "variant": v, "status": "ok", "rounds": rounds, "last10_acc_mean": 0.8,
             "last10_acc_std": 0.01}
            for (a, m, v) in (("fedavg", 0.0, "FedAvg"), ("fedprox", 2.0, "FedProx μ=2"))
            for s in (0.0, 0.9)]
    return pd.DataFrame(rows)


def test_published_values_are_drawn_on_the_accuracy_chart_where_comparable() -> None:
    for rounds, shown in ((100, True), (30, False)):  # Flower's values are read at round 100
        summary = _flower_summary(rounds)
        assert figures.published_shown(summary) is shown
        fig = Figure()
        with figures.style():
            figures.draw_final_accuracy(fig, summary)
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert (figures.PUBLISHED_LABEL in legend) is shown
        hollow = [line for ax in fig.axes for line in ax.get_lines()
                  if line.get_marker() == "D" and line.get_markerfacecolor() == "white"]
        assert bool(hollow) is shown


def test_published_values_are_drawn_on_the_curves(tmp_path: Path) -> None:
    rows = []
    for a, m, v in (("fedavg", 0.0, "FedAvg"), ("fedprox", 2.0, "FedProx μ=2")):
        for seed, rnd in itertools.product((0, 1), range(101)):
            rows.append({"protocol": "flower-baseline", "algorithm": a, "mu": m,
                         "stragglers": 0.9, "seed": seed, "variant": v, "status": "ok",
                         "round": rnd, "test_loss": 1.0, "test_accuracy": 0.7})
    fig = Figure()
    with figures.style():
        figures.draw_curves(fig, pd.DataFrame(rows))
    accuracy = fig.axes[1]
    marks = [line for line in accuracy.get_lines() if line.get_marker() == "D"]
    assert len(marks) == 2 and all(line.get_xdata()[0] > 100 for line in marks)
    assert figures.PUBLISHED_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]


@pytest.fixture(scope="module")
def settings_report(tmp_path_factory) -> dict:
    """A 2NN-like settings grid: 9 (E, B) settings x 2 partitions x 2 seeds, CNN so that
    Table 2's and Flower's rounds are drawn on the curves."""
    root = tmp_path_factory.mktemp("settings")
    runs = []
    for protocol in ("mcmahan-iid", "mcmahan-noniid"):
        for (e, b), seed in itertools.product(itertools.product((1, 5, 20), (10, 50, None)),
                                              (0, 1)):
            reach = 10 + e + (b or 80) // 5 + 3 * seed
            runs.append(write_mcmahan_run(root / "results", protocol, "cnn", e, b, 0.1, seed,
                                          _rising(reach, reach, 0.99), 200, stopped=reach))
    out = root / "out"
    assert main(["targets", "--name", "mc", "--out-dir", str(out), *map(str, runs)]) == 0
    return {"pages": [p.extract_text() for p in PdfReader(out / "report.pdf").pages]}


def test_a_settings_grid_leaves_no_page_nearly_empty(settings_report) -> None:
    pages = settings_report["pages"]
    assert "Rounds to target accuracy" in pages[1]  # the table follows the setup's last lines
    for number, text in enumerate(pages[:-1], start=1):
        assert len(text) > 900, f"page {number} is nearly empty: {text[:200]!r}"


def test_published_rounds_to_target_are_marked_on_the_curves(settings_report) -> None:
    text = " ".join(" ".join(settings_report["pages"]).split())
    assert "McMahan et al. Table 2 (rounds to target)" in text
    assert "Flower's replication (rounds to target)" in text


@pytest.mark.slow
def test_the_documented_mu_sweep_recipe_plans_the_sweep_and_its_figure(tmp_path: Path) -> None:
    """README's `snakemake --config` recipe for a μ sweep at γ = 0.9, as a dry run."""
    grid = ("{variants: [{algorithm: fedavg}, {algorithm: fedprox, mu: 0.0}, "
            "{algorithm: fedprox, mu: 0.001}, {algorithm: fedprox, mu: 0.01}, "
            "{algorithm: fedprox, mu: 0.1}, {algorithm: fedprox, mu: 1.0}, "
            "{algorithm: fedprox, mu: 2.0}], stragglers: [0.9]}")
    assert grid in (REPO / "README.md").read_text()
    proc = snakemake(tmp_path, "--configfile", str(REPO / "configs" / "quick.yaml"),
                     "--config", "name=mu-sweep", f"grid={grid}", "--dry-run", "--cores", "2")
    assert proc.returncode == 0, output_of(proc)
    assert job_counts(proc)["simulate"] == 7 * 3  # 7 variants x γ = 0.9 x quick's 3 seeds
    assert "reports/mu-sweep/figures/mu_sweep.png" in output_of(proc)
    assert "results/mu-sweep/fedprox-mu0.001-sf0.9/seed2/run.json" in output_of(proc)

"""The report of a grid with a partitions axis (``grid.partitions``): no figure, panel or table
mixes two partitions, each is named by its table heading ("#C=1", "p~Dir(0.5)", "IID"), and a
"Heterogeneity" section sets the partitions side by side: accuracy against the Dirichlet β
(IID at ∞) when the partitions sweep it, and per protocol NIID-Bench's table (a row per
partition, a column per variant) beside the protocol's reference values. A grid without
partitions gets the report it always had.

The runs are synthetic (rounds.csv + run.json as ``fedbench run`` writes them), each flat at
a plateau chosen per (partition, algorithm, seed), so that the expected numbers are known."""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from pypdf import PdfReader

from fedbench.analysis.summary import load_reports
from fedbench.apps.results import ROUND_COLUMNS
from fedbench.cli import main
from fedbench.config import variant_id
from fedbench.data.partitions import label as partition_label
from fedbench.report import figures
from fedbench.report.build import GRID_SECTIONS, headings
from fedbench.report.sections import heterogeneity
from fedbench.report.sections.final_accuracy import final_accuracy_rows
from fedbench.report.sections.paired_comparison import paired_rows
from tests.conftest import write_run_json

ROUNDS = 12
SEEDS = (0, 1, 2)
BETAS = (0.1, 0.3, 1.0, 10.0)
# the heterogeneity sweep's partitions: four Dirichlet β and IID
SWEEP_PARTITIONS = (*({"name": "dirichlet", "params": {"beta": b}} for b in BETAS),
                    {"name": "iid"})
SWEEP_VARIANTS = (("fedavg", 0.0), ("fedprox", 0.0), ("fednova", 0.0))
# NIID-Bench's: #C = 1 (which Flower's table has) and feature noise (which it has not)
NIID_PARTITIONS = ({"name": "labels", "params": {"k": 1}}, {"name": "noise",
                                                            "params": {"sigma": 0.1}})
NIID_VARIANTS = (("fedavg", 0.0), ("fedprox", 0.001), ("fedprox", 0.01), ("fedprox", 0.1),
                 ("scaffold", 0.0), ("fednova", 0.0))
# the sections of every grid report, as they were before partitions existed
PLAIN_HEADINGS = ["Provenance", "Setup", "Algorithms: which keep stragglers' partial work",
                  "Results", "Final accuracy", "Paired comparison", "Known differences"]


def plateau(partition: dict | None, algorithm: str, mu: float, seed: int) -> float:
    """A run's accuracy in every round after round 0: lower for a more skewed split (small β,
    few labels), 0.9 on IID; FedNova a little better; a spread over seeds."""
    name = (partition or {}).get("name")
    params = (partition or {}).get("params", {})
    level = {"dirichlet": 0.9 - 0.3 / (1 + 3 * params.get("beta", 0.5)), "iid": 0.9,
             "labels": 0.2 + 0.3 * (params.get("k", 1) - 1), "noise": 0.8, "quantity": 0.88,
             None: 0.85}[name]
    level += {"fednova": 0.02, "scaffold": -0.05}.get(algorithm, 0.0) + 0.01 * mu
    return round(level + 0.01 * seed * (1 + seed), 6)


def write_partition_run(root: Path, protocol: str, partition: dict | None, algorithm: str,
                        mu: float, seed: int, stragglers: float = 0.0) -> Path:
    """A run directory as ``fedbench run`` writes it for a cell of a partitions axis (the
    partition in its config, its label in the path; ``None``: the protocol's own split):
    accuracy 0.1 at round 0, then ``plateau`` in every round, so the final, best and last-10
    accuracy are the plateau."""
    level = plateau(partition, algorithm, mu, seed)
    lines = [",".join(ROUND_COLUMNS)]
    for rnd in range(ROUNDS + 1):
        acc = 0.1 if rnd == 0 else level
        train = "nan" if rnd == 0 else "0.4"
        lines.append(f"{rnd},{2.3 * (1 - acc) + 0.2!r},{acc!r},{0 if rnd == 0 else 10},"
                     f"{int(10 * stragglers)},0,0,500,{train},nan,0.05")
    where = root / protocol
    if partition is not None:
        where = where / partition_label(partition["name"], partition.get("params"))
    run_dir = where / f"{variant_id(algorithm, mu)}-sf{stragglers}" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "rounds.csv").write_text("\n".join(lines) + "\n")
    config = {"name": "part", "protocol": protocol, "algorithm": algorithm, "mu": mu,
              "stragglers": stragglers, "seed": seed,
              "federation": {"num_clients": 10, "clients_per_round": 10, "rounds": ROUNDS},
              "training": {"model": "logreg", "local_epochs": 1, "batch_size": 10, "lr": 0.03,
                           "weight_decay": 0.001}}
    if partition is not None:
        config["partition"] = partition
    write_run_json(run_dir, config, status="ok", config_digest=f"{where.name}{algorithm}{mu}",
                   final={"round": ROUNDS, "test_accuracy": level})
    return run_dir


def build(root: Path, name: str, protocol: str, partitions, variants) -> dict:
    """Aggregate the runs of every (partition, variant, seed) and build the report."""
    runs = [write_partition_run(root / "results", protocol, d, a, m, seed)
            for d in partitions for a, m in variants for seed in SEEDS]
    reports = root / "reports"
    assert main(["aggregate", "--name", name, "--out-dir", str(reports),
                 *map(str, runs)]) == 0
    config = root / f"{name}.yaml"
    config.write_text(f"name: {name}\n")
    assert main(["report", "--name", name, "--config", str(config), "--reports-dir",
                 str(reports)]) == 0
    pages = [p.extract_text() for p in PdfReader(reports / "report.pdf").pages]
    rounds, summary, _prov = load_reports(reports)  # as the report reads them
    return {"reports": reports, "pages": pages, "text": " ".join(" ".join(pages).split()),
            "summary": summary, "rounds": rounds}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict:
    """The heterogeneity sweep in small: Dir(β) for four β and IID, three variants, 3 seeds."""
    return build(tmp_path_factory.mktemp("sweep"), "sweep", "flower-baseline",
                 SWEEP_PARTITIONS, SWEEP_VARIANTS)


@pytest.fixture(scope="module")
def niid(tmp_path_factory) -> dict:
    """NIID-Bench on MNIST: #C = 1 and x ~ Gau(0.1), FedProx at three μ (a μ sweep)."""
    return build(tmp_path_factory.mktemp("niid"), "niid", "niid-bench-mnist", NIID_PARTITIONS,
                 NIID_VARIANTS)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict:
    """A grid without a partitions axis (the protocol's own split)."""
    return build(tmp_path_factory.mktemp("plain"), "plain", "flower-baseline", (None,),
                 (("fedavg", 0.0), ("fedprox", 0.0), ("fedprox", 2.0)))


def _labels(partitions) -> list[str]:
    return [partition_label(d["name"], d.get("params")) for d in partitions]


# --------------------------------------------------------------------------- the section


def test_the_heterogeneity_section_is_conditional_and_kept_out_of_every_report_s_list():
    assert headings(GRID_SECTIONS) == PLAIN_HEADINGS
    assert "Heterogeneity" in [s.heading for s in GRID_SECTIONS if s.conditional]


def test_a_grid_with_partitions_gets_the_heterogeneity_section(sweep, niid) -> None:
    for grid in (sweep, niid):
        assert "Heterogeneity: accuracy across partitions" in grid["text"]
        for heading in PLAIN_HEADINGS:
            assert heading in grid["text"], heading
    # every partition by its heading, label and kind of split
    assert "p~Dir(0.1) dirichlet-beta0.1-min_size10 distribution-based label imbalance" \
        in sweep["text"]
    assert "#C=1 labels-k1 quantity-based label imbalance" in niid["text"]


def test_a_grid_without_partitions_is_reported_as_before(plain) -> None:
    assert "Heterogeneity" not in plain["text"]
    assert "Partition" not in plain["text"]
    for heading in PLAIN_HEADINGS:
        assert heading in plain["text"], heading
    assert sorted(p.name for p in (plain["reports"] / "figures").iterdir()) == [
        "curves.pdf", "curves.png", "final_accuracy.pdf", "final_accuracy.png"]
    header, _rows = final_accuracy_rows(plain["summary"])
    assert header[0] == "Stragglers"  # no partition column
    assert "Partition" not in paired_rows(plain["summary"]).columns
    assert figures.extra_figure_names(["flower-baseline"], [("fedavg", 0.0, 0.0)]) == []


# --------------------------------------------------------------------------- the β sweep


def test_partitions_that_sweep_beta_get_the_beta_sweep_figure(sweep) -> None:
    labels = _labels(SWEEP_PARTITIONS)
    assert figures.extra_figure_names(["flower-baseline"], [("fedavg", 0.0, 0.0)],
                                      partitions=labels) == ["beta_sweep"]
    for ext in ("png", "pdf"):
        assert (sweep["reports"] / "figures" / f"beta_sweep.{ext}").stat().st_size > 0
    assert "Accuracy against β" in sweep["text"]
    assert "figures/beta_sweep.pdf" in sweep["text"]
    assert figures.BETA_AXIS in sweep["text"]  # the figure's axis, in the PDF


def test_a_beta_sweep_needs_three_dirichlet_betas_with_the_same_other_parameters() -> None:
    two = ["dirichlet-beta0.1-min_size10", "dirichlet-beta1.0-min_size10", "iid"]
    assert figures.beta_sweep_partitions(two) == []
    assert figures.extra_figure_names(["flower-baseline"], partitions=two) == []
    mixed = [*two, "dirichlet-beta10.0-min_size20"]  # another min_size: another split
    assert figures.beta_sweep_partitions(mixed) == []
    three = [*two, "dirichlet-beta10.0-min_size10", "labels-k1"]
    assert figures.beta_sweep_partitions(three) == [
        "dirichlet-beta0.1-min_size10", "dirichlet-beta1.0-min_size10",
        "dirichlet-beta10.0-min_size10", "iid"]  # β ascending, IID last, #C=1 not on the axis


def test_the_beta_sweep_frame_orders_beta_ascending_with_iid_last(sweep) -> None:
    frame = figures.beta_sweep_frame(sweep["summary"])
    assert list(dict.fromkeys(frame["variant"])) == ["FedAvg", "FedNova", "FedProx μ=0"]
    for _variant, line in frame.groupby("variant", sort=False):
        assert list(line["beta"]) == [*BETAS, float("inf")]
        assert list(line["partition"])[-1] == "iid"


def test_the_beta_sweep_frame_has_each_variant_s_mean_and_sd_over_seeds(sweep) -> None:
    frame = figures.beta_sweep_frame(sweep["summary"])
    for (algorithm, mu), partition, beta in ((("fednova", 0.0), SWEEP_PARTITIONS[1], 0.3),
                                             (("fedavg", 0.0), SWEEP_PARTITIONS[-1],
                                              float("inf"))):
        seeds = [plateau(partition, algorithm, mu, s) for s in SEEDS]
        row = frame[(frame["algorithm"] == algorithm) & (frame["beta"] == beta)].iloc[0]
        assert row["last10_acc_mean"] == pytest.approx(statistics.mean(seeds))
        assert row["last10_acc_std"] == pytest.approx(statistics.stdev(seeds))
        assert (row["n_ok"], row["n_seeds"]) == (3, 3)


def test_iid_stands_apart_right_of_the_largest_beta(sweep) -> None:
    fig = Figure()
    with figures.style():
        figures.draw_beta_sweep(fig, sweep["summary"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["0.1", "0.3", "1", "10", "∞ (IID)"]
    assert ax.get_xticks()[-1] > 10 * 3  # a step past β = 10, not on the β scale
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["FedAvg", "FedNova", "FedProx μ=0"]
    assert "band, bar: ±1 std over 3 seeds" in legend  # the seed count
    assert figures.IID_TEXT in legend
    # per variant a faint connector from β = 10 on to ∞, and IID's hollow marker there
    connectors = [line for line in ax.get_lines() if len(line.get_xdata()) == 2
                  and line.get_xdata()[0] == 10 and line.get_xdata()[1] > 30]
    assert len(connectors) == len(SWEEP_VARIANTS)
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"
              and line.get_xdata()[0] > 30]
    assert len(hollow) == len(SWEEP_VARIANTS)


def test_the_beta_table_has_a_row_per_variant_and_a_column_per_beta(sweep) -> None:
    header, rows = heterogeneity.beta_rows(sweep["summary"])
    assert header == ["Variant", "β = 0.1", "β = 0.3", "β = 1", "β = 10", "IID (β = ∞)"]
    fedavg = next(r for r in rows if r[0] == "FedAvg")
    seeds = [plateau(SWEEP_PARTITIONS[0], "fedavg", 0.0, s) for s in SEEDS]
    assert fedavg[1] == (f"{100 * statistics.mean(seeds):.2f} ± "
                         f"{100 * statistics.stdev(seeds):.2f}")
    assert " ".join(fedavg) in sweep["text"]


# --------------------------------------------------------------------------- NIID-Bench's table


def _niid_cell(summary: pd.DataFrame, partition: str, source: str, variant: str) -> str:
    header, rows = heterogeneity.niid_rows(summary, "niid-bench-mnist")
    start = next(i for i, r in enumerate(rows) if r[0] == partition)
    block = rows[start:start + 4]  # fedbench final and best, reference, published
    row = next(r for r in block if r[1].startswith(source))
    return row[header.index(variant)]


def test_the_niid_table_puts_flower_s_value_in_its_partition_s_row_and_variant_s_column(
        niid) -> None:
    summary = niid["summary"]
    header, rows = heterogeneity.niid_rows(summary, "niid-bench-mnist")
    assert header == ["Partition", "Source", "FedAvg", "FedNova", "FedProx μ=0.001",
                      "FedProx μ=0.01", "FedProx μ=0.1", "SCAFFOLD"]
    assert [r[0] for r in rows if r[0]] == ["#C=1", "x~Gau(0.1)"]  # NIID-Bench's order
    # Flower's MNIST table, #C = 1 row: FedAvg 19.33 ± 11.82, SCAFFOLD 9.93 ± 0.12
    assert _niid_cell(summary, "#C=1", "reference", "FedAvg") == "19.33 ± 11.82"
    assert _niid_cell(summary, "#C=1", "reference", "SCAFFOLD") == "9.93 ± 0.12"
    # its FedProx column does not say which μ: beside every FedProx, marked
    assert _niid_cell(summary, "#C=1", "reference", "FedProx μ=0.01") == "51.79 ± 26.75†"
    # Flower has no feature-noise row
    assert _niid_cell(summary, "x~Gau(0.1)", "reference", "FedAvg") == "—"
    # fedbench's own numbers above it: final and best round, in %
    seeds = [plateau(NIID_PARTITIONS[0], "fedavg", 0.0, s) for s in SEEDS]
    expected = f"{100 * statistics.mean(seeds):.2f} ± {100 * statistics.stdev(seeds):.2f}"
    assert _niid_cell(summary, "#C=1", "fedbench, final", "FedAvg") == expected
    assert _niid_cell(summary, "#C=1", "fedbench, best", "FedAvg") == expected


def test_the_niid_table_says_what_each_source_reports(niid) -> None:
    text = niid["text"]
    assert "Accuracy per partition, niid-bench-mnist (NIID-Bench's layout" in text
    assert "reference (best round)" in text
    assert ("Reference: the best round's test accuracy (over 50 rounds), mean ± std over the "
            "source's runs; source: Flower repository") in text
    assert "this grid 12: its best round is over a different number of rounds" in text
    assert ("Published: no value per partition is transcribed for niid-bench-mnist (the "
            "publication reports the final round's test accuracy") in text
    assert "† the source's value for the algorithm, which does not say at which μ" in text


# --------------------------------------------------------------------------- no mixing


def test_the_curves_have_a_row_of_panels_per_partition(sweep) -> None:
    fig = Figure()
    with figures.style():
        figures.draw_curves(fig, sweep["rounds"])
    titles = [ax.get_title() for ax in fig.axes]
    # one straggler rate: the rows are the partitions (the section's text names the rate)
    assert titles[:4] == ["p~Dir(0.1) — test loss", "p~Dir(0.1) — test accuracy",
                          "p~Dir(0.3) — test loss", "p~Dir(0.3) — test accuracy"]
    assert titles[-1] == "IID — test accuracy"
    assert "one row per partition (all at 0% stragglers)" in sweep["text"]
    # every accuracy line is one partition's mean: flat at its plateau
    ax = fig.axes[1]
    seeds = [plateau(SWEEP_PARTITIONS[0], "fedavg", 0.0, s) for s in SEEDS]
    fedavg = next(line for line in ax.get_lines() if line.get_label() == "FedAvg")
    assert fedavg.get_ydata()[-1] == pytest.approx(statistics.mean(seeds))


def test_final_accuracy_has_a_panel_and_a_column_per_partition(sweep) -> None:
    fig = Figure()
    with figures.style():
        figures.draw_final_accuracy(fig, sweep["summary"])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["p~Dir(0.1)", "p~Dir(0.3)", "p~Dir(1)",
                                                 "p~Dir(10)", "IID"]
    # at one straggler rate the variants run down the panels, each at its partition's mean
    names = [t.get_text() for t in panels[0].get_yticklabels()]
    assert names == ["FedProx μ=0", "FedNova", "FedAvg"]  # legend order, top down
    seeds = [plateau(SWEEP_PARTITIONS[-1], "fednova", 0.0, s) for s in SEEDS]
    bars = [line for line in panels[-1].get_lines() if line.get_marker() == "o"]
    assert bars[0].get_xdata()[0] == pytest.approx(statistics.mean(seeds))
    header, rows = final_accuracy_rows(sweep["summary"])
    assert header[:2] == ["Partition", "Variant"]  # one straggler rate: said under the figure
    assert [r[0] for r in rows][::3] == ["p~Dir(0.1)", "p~Dir(0.3)", "p~Dir(1)", "p~Dir(10)",
                                        "IID"]


def test_the_paired_comparison_pairs_within_a_partition(sweep) -> None:
    table = paired_rows(sweep["summary"])
    assert list(table.columns[:4]) == ["Protocol", "Partition", "Stragglers", "Variant"]
    row = table[(table["Partition"] == "p~Dir(10)") & (table["Variant"] == "FedNova")].iloc[0]
    assert row["Δ last-10 acc."] == "+0.0200"  # FedNova's offset, on every seed
    assert "Each variant minus FedAvg at the same straggler rate and partition" in sweep["text"]


def test_a_published_value_of_the_protocol_s_split_is_not_one_of_a_partition() -> None:
    assert figures.published_accuracy("flower-baseline", "fedprox", 2.0, 0.9) is not None
    assert figures.published_accuracy("flower-baseline", "fedprox", 2.0, 0.9,
                                      "dirichlet-beta0.5-min_size10") is None


def test_a_mu_sweep_over_partitions_is_drawn_per_partition(niid) -> None:
    text = niid["text"]
    assert "μ sweep: last-10 accuracy against μ" in text
    assert "#C=1, 0% stragglers" in text and "x~Gau(0.1), 0% stragglers" in text
    assert "Partition Stragglers Variant μ" in text  # the sweep's table


def test_the_partial_work_claim_is_differenced_within_a_partition(sweep) -> None:
    text = sweep["text"]
    assert "Objective inconsistency: FedNova against FedProx μ=0" in text
    # FedNova's offset over FedProx μ=0, the same on every seed of every partition
    assert "p~Dir(0.1) 0% last-10 accuracy 3" in text
    assert "p~Dir(0.1): last-10 accuracy: FedNova better at 0%" in text

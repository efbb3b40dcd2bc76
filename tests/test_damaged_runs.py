"""A damaged cell file is never averaged in (issue 13, class 3).

`fedbench aggregate`, `fedbench targets` and `fedbench check` check every file before using
it: a rounds.csv cut mid-line, a round missing from the middle, a run.json with ``"mu": null``
or a non-integer seed, or a run.json that describes another cell than its path names, ends in
exit code 2 with a message naming the file and what is wrong and saying how to rerun just
that cell, and no summary is written from it.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fedbench.cli import main
from tests.test_aggregate import flat, write_run
from tests.test_fedavg_mcmahan import write_mcmahan_run

VARIANTS = (("fedavg", 0.0), ("fedprox", 2.0))
VICTIM = "fedprox-mu2.0-sf0.0/seed1"


def grid(root: Path) -> list[Path]:
    """Two variants x two seeds of 5 rounds, as `fedbench run` lays them out."""
    return [write_run(root, a, m, 0.0, s, flat(0.5 + 0.1 * s, 5)) for a, m in VARIANTS
            for s in (0, 1)]


def _cut_mid_line(d: Path) -> None:
    text = (d / "rounds.csv").read_text()
    (d / "rounds.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 12])


def _drop_round(n: int) -> Callable[[Path], None]:
    def drop(d: Path) -> None:
        lines = (d / "rounds.csv").read_text().splitlines(keepends=True)
        (d / "rounds.csv").write_text("".join(line for line in lines
                                              if not line.startswith(f"{n},")))
    return drop


def _edit_json(**changes) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        payload = json.loads((d / "run.json").read_text())
        for dotted, value in changes.items():
            node = payload
            *parents, leaf = dotted.split("__")
            for key in parents:
                node = node[key]
            node[leaf] = value
        (d / "run.json").write_text(json.dumps(payload))
    return edit


def _empty_field(d: Path) -> None:
    lines = (d / "rounds.csv").read_text().splitlines(keepends=True)
    fields = lines[3].split(",")
    fields[2] = ""  # test_accuracy of round 2
    lines[3] = ",".join(fields)
    (d / "rounds.csv").write_text("".join(lines))


def _last_row_deleted(d: Path) -> None:
    lines = (d / "rounds.csv").read_text().splitlines(keepends=True)
    (d / "rounds.csv").write_text("".join(lines[:-1]))


DAMAGES = {
    # the cases
    "last row cut mid-line": (_cut_mid_line, "rounds.csv: the last line is cut off"),
    "middle round deleted": (_drop_round(3), "rounds.csv: round(s) 3 missing"),
    "mu null": (_edit_json(config__mu=None), "run.json: 'config.mu' must be a finite number "
                                             ">= 0 (got None)"),
    "seed 1.5": (_edit_json(config__seed=1.5), "run.json: 'config.seed' must be a whole number "
                                               ">= 0 (got 1.5)"),
    "seed '1'": (_edit_json(config__seed="1"), "'config.seed' must be a whole number"),
    "seed of another cell": (_edit_json(config__seed=0),
                             "does not describe the cell its path names: seed=0 (the path "
                             "says 1)"),
    "mu of another cell": (_edit_json(config__mu=1.0),
                           ("mu=1.0 (the path says 2.0)",
                            "variant='fedprox-mu1.0' (the path says 'fedprox-mu2.0')")),
    "stragglers of another cell": (_edit_json(config__stragglers=0.5),
                                   "stragglers=0.5 (the path says 0.0)"),
    "algorithm of another cell": (_edit_json(config__algorithm="fedavg", config__mu=0.0),
                                  ("algorithm='fedavg' (the path says 'fedprox')",
                                   "variant='fedavg-mu0.0' (the path says 'fedprox-mu2.0')")),
    # more of the same kind
    "last row deleted": (_last_row_deleted, "rounds.csv: ends at round 4 but"),
    "empty field": (_empty_field, "rounds.csv: line 4: no value for column 'test_accuracy'"),
    "rounds as text": (_edit_json(config__federation__rounds="5"),
                       "'config.federation.rounds' must be a whole number"),
    "non-finite wall time": (_edit_json(wall_seconds=float("nan")),
                             "'wall_seconds' must be a finite number"),
    "lr 0": (_edit_json(config__training__lr=0), "'config.training.lr' must be a finite number "
                                                 "> 0"),
}


@pytest.mark.parametrize("case", list(DAMAGES))
@pytest.mark.parametrize("command", ["aggregate", "targets"])
def test_a_damaged_run_is_refused_naming_the_file_and_the_rerun(tmp_path, capsys, case,
                                                                command) -> None:
    runs = grid(tmp_path / "results")
    victim = tmp_path / "results" / VICTIM
    damage, message = DAMAGES[case]
    damage(victim)
    out = tmp_path / "reports"
    assert main([command, "--name", "synthetic", "--out-dir", str(out), *map(str, runs)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # (a variant is named by its algorithm and mu, or as the whole variant directory name)
    assert any(m in err for m in ((message,) if isinstance(message, str) else message)), err
    assert str(victim) in err  # the file is named
    assert f"delete {victim} and rerun snakemake" in err  # and how to rerun just that cell
    assert not out.exists()  # nothing written: no summary, no table, no provenance


def test_the_hint_gives_the_fedbench_run_line_of_a_workflow_cell(tmp_path, capsys) -> None:
    results = tmp_path / "results" / "synthetic"
    runs = grid(results)
    (results / "run_config.yaml").write_text("name: synthetic\n")
    _drop_round(2)(results / VICTIM)
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(tmp_path / "reports"),
                 *map(str, runs)]) == 2
    err = capsys.readouterr().err
    assert (f"fedbench run --config {results / 'run_config.yaml'} --algorithm fedprox --mu 2.0 "
            f"--stragglers 0.0 --seed 1 --out {results / VICTIM}") in err


def test_a_setting_or_protocol_other_than_the_path_names_is_refused(tmp_path, capsys) -> None:
    """The settings axis (McMahan's grid): results/<name>/<protocol>/<setting>/<cell>/seed<k>."""
    accuracy = [0.1, 0.5, 0.9, 0.97]
    runs = [write_mcmahan_run(tmp_path, "mcmahan-iid", "2nn", 1, 10, 0.1, s, accuracy, cap=3,
                              stop_at_target=False) for s in (0, 1)]
    assert main(["targets", "--name", "mc", "--out-dir", str(tmp_path / "ok"),
                 *map(str, runs)]) == 0
    _edit_json(config__training__lr=0.2)(runs[1])
    assert main(["targets", "--name", "mc", "--out-dir", str(tmp_path / "bad"),
                 *map(str, runs)]) == 2
    err = capsys.readouterr().err
    assert "setting='2nn-E1-B10-lr0.2' (the path says '2nn-E1-B10-lr0.1')" in err
    _edit_json(config__training__lr=0.1, config__protocol="mcmahan-noniid")(runs[1])
    assert main(["targets", "--name", "mc", "--out-dir", str(tmp_path / "bad"),
                 *map(str, runs)]) == 2
    assert "protocol='mcmahan-noniid' (the path says 'mcmahan-iid')" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_check_refuses_a_summary_cut_mid_line(tmp_path, capsys) -> None:
    runs = grid(tmp_path / "results")
    reports = tmp_path / "reports"
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(reports),
                 *map(str, runs)]) == 0
    expected = tmp_path / "expected.csv"
    assert main(["expected", "--summary", str(reports / "summary.csv"), "--out",
                 str(expected)]) == 0
    capsys.readouterr()
    summary = reports / "summary.csv"
    summary.write_text(summary.read_text()[:-3])  # the last field of the last row, cut
    assert main(["check", "--summary", str(summary), "--expected", str(expected)]) == 2
    err = capsys.readouterr().err
    assert f"summary {summary}: the last line is cut off" in err and "Traceback" not in err


# --- the issue's own recipe: cut a row mid-line, rerun snakemake ---------------------------------

TINY = {
    "name": "tiny", "protocol": "flower-baseline",
    "federation": {"num_clients": 20, "clients_per_round": 5, "rounds": 3},
    "training": {"model": "logreg", "local_epochs": 2, "batch_size": 10, "lr": 0.03,
                 "weight_decay": 0.001},
    "runtime": {"backend": "inprocess", "device": "cpu", "threads": 1},
    "grid": {"variants": [{"algorithm": "fedavg", "mu": 0.0}], "stragglers": [0.5],
             "seeds": [0, 1]},
}


def _numbers(path: Path) -> list[dict]:
    with path.open() as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_snakemake_refuses_a_cut_rounds_csv_and_reruns_the_cell_once_deleted(
        tmp_path: Path, mnist_root: Path) -> None:
    from fedbench.data import mnist
    from tests.test_workflow import output_of, snakemake

    raw = mnist.raw_dir(tmp_path / "resources")
    raw.mkdir(parents=True)
    for name in mnist.IDX_MD5:
        (raw / name).symlink_to(mnist.raw_dir(mnist_root) / name)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    first = snakemake(tmp_path, "--configfile", str(config), "--cores", "2")
    assert first.returncode == 0, output_of(first)
    cell = tmp_path / "results/tiny/fedavg-mu0.0-sf0.5/seed1"
    reference = _numbers(cell / "rounds.csv")
    summary = tmp_path / "reports/tiny/summary.csv"
    assert summary.is_file()

    _cut_mid_line(cell)
    second = snakemake(tmp_path, "--configfile", str(config), "--cores", "2")
    assert second.returncode != 0
    log = (tmp_path / "logs/tiny/aggregate.log").read_text()
    assert "rounds.csv: the last line is cut off" in log and "Traceback" not in log
    assert f"delete {Path('results/tiny/fedavg-mu0.0-sf0.5/seed1')}" in log
    assert "fedbench run --config results/tiny/run_config.yaml --algorithm fedavg" in log
    assert not summary.exists()  # no summary from the damaged run set

    shutil.rmtree(cell)  # what the message says to do
    third = snakemake(tmp_path, "--configfile", str(config), "--cores", "2")
    assert third.returncode == 0, output_of(third)
    assert _numbers(cell / "rounds.csv") == reference  # identical numbers after recovery
    with summary.open() as f:
        assert [int(r["n_ok"]) for r in csv.DictReader(f)] == [2]


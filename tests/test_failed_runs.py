"""A run that learned nothing is not reported ``ok`` (issue 13, class 5).

A run in which no update was ever applied, or in which more than half of all client calls
over the run failed, gets ``status: failed`` with the reason in run.json. Aggregation never
averages it (it is counted with the diverged runs, in ``n_diverged``), `fedbench targets`
never counts it as reaching the target, `fedbench check` fails on it, and the report shows it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from fedbench.algorithms.base import RoundLog
from fedbench.apps.server_app import failure
from fedbench.cli import main
from tests.conftest import tiny_experiment
from tests.test_aggregate import flat, write_run

REPO = Path(__file__).resolve().parents[1]


def _log(*rounds: tuple[int, int, int]) -> list[RoundLog]:
    """RoundLogs from (sampled, failed, dropped) per round."""
    return [RoundLog(r, s, 0, d, f, 10 * (s - f - d), 0.5) for r, (s, f, d) in
            enumerate(rounds, start=1)]


def test_what_failed_means() -> None:
    assert failure(_log((10, 0, 0), (10, 2, 3))) is None
    assert failure(_log((10, 5, 0), (10, 5, 0))) is None  # exactly half: not "most"
    assert "11 of 20 client calls failed (more than half" in failure(_log((10, 5, 0), (10, 6, 0)))
    assert "no update was applied in any of its 2 round(s): 20 of 20 client calls failed" \
        in failure(_log((10, 10, 0), (10, 10, 0)))
    # every update dropped as a straggler (FedAvg): the model is still the initial one
    assert "0 of 10 client calls failed and 10 updates were dropped as stragglers" \
        in failure(_log((5, 0, 5), (5, 0, 5)))
    assert failure(_log((5, 0, 5), (5, 0, 4))) is None  # one update applied


def _run(config: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fedbench.cli", "run", "--config", str(config), "--out", str(out),
         "--algorithm", "fedprox", "--stragglers", "0.0", "--quiet", *args],
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, mnist_root: Path) -> Path:
    path = tmp_path_factory.mktemp("failed") / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_experiment(mnist_root, federation={"rounds": 4})))
    return path


def _rounds(out: Path) -> list[dict[str, str]]:
    with (out / "rounds.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.parametrize(("args", "reason"), [
    # the case: a finite but absurd mu makes every client overflow, in every round
    (("--mu", "1e300"), "no update was applied in any of its 4 round(s): 20 of 20 client "
                        "calls failed"),
    (("--mu", "0", "--fail-prob", "1.0"), "no update was applied"),
    (("--mu", "0", "--fail-prob", "0.8"), "client calls failed (more than half of all calls"),
], ids=["mu=1e300", "all-calls-fail", "most-calls-fail"])
def test_a_run_that_learned_nothing_is_failed_with_its_reason(tiny, tmp_path, args,
                                                               reason) -> None:
    out = tmp_path / "cell"
    proc = _run(tiny, out, *args)
    assert proc.returncode == 0, proc.stderr  # a result, as a diverged run: the grid goes on
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and reason in run["failure_reason"]
    assert f"run failed: {run['failure_reason']}" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("failed: round 4")
    rows = _rounds(out)
    assert len(rows) == 5  # every round was run and written
    calls = sum(int(r["sampled"]) for r in rows)
    failed = sum(int(r["failed"]) for r in rows)
    assert failed * 2 > calls


@pytest.mark.slow
def test_a_few_failed_calls_leave_the_run_ok(tiny, tmp_path) -> None:
    out = tmp_path / "cell"
    proc = _run(tiny, out, "--mu", "0", "--fail-prob", "0.2")
    assert proc.returncode == 0, proc.stderr
    run = json.loads((out / "run.json").read_text())
    rows = _rounds(out)
    assert 0 < sum(int(r["failed"]) for r in rows) * 2 <= sum(int(r["sampled"]) for r in rows)
    assert run["status"] == "ok" and run["failure_reason"] is None


def _fail(run_dir: Path, reason: str = "20 of 20 client calls failed") -> None:
    payload = json.loads((run_dir / "run.json").read_text())
    payload.update(status="failed", failure_reason=reason)
    (run_dir / "run.json").write_text(json.dumps(payload))


def test_aggregation_never_averages_a_failed_run(tmp_path) -> None:
    runs = [write_run(tmp_path / "results", "fedavg", 0.0, 0.9, s, flat(0.6 + 0.1 * s, 12))
            for s in (0, 1, 2)]
    runs += [write_run(tmp_path / "results", "fedprox", 2.0, 0.9, s, flat(0.8, 12))
             for s in (0, 1)]
    _fail(runs[2])  # FedAvg seed 2 (0.8) failed: the mean is of seeds 0 and 1
    _fail(runs[3])
    _fail(runs[4], "no update was applied in any of its 12 round(s)")  # every FedProx seed
    out = tmp_path / "reports"
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(out),
                 *map(str, runs)]) == 0
    with (out / "summary.csv").open() as f:
        fedavg, fedprox = list(csv.DictReader(f))
    assert (fedavg["status"], fedavg["n_seeds"], fedavg["n_ok"], fedavg["n_diverged"]) == \
        ("partial", "3", "2", "1")
    assert float(fedavg["final_acc_mean"]) == pytest.approx(0.65)
    assert (fedprox["status"], fedprox["n_ok"], fedprox["n_diverged"]) == ("failed", "0", "2")
    assert fedprox["final_acc_mean"] == "" and fedprox["n_pairs"] == "0"
    prov = json.loads((out / "provenance.json").read_text())
    assert (prov["n_diverged"], prov["n_failed"]) == (0, 3)
    reasons = [r.get("failure_reason") for r in prov["runs"]]
    assert "no update was applied in any of its 12 round(s)" in reasons
    with (out / "rounds.csv").open() as f:
        statuses = {(r["algorithm"], r["seed"]): r["status"] for r in csv.DictReader(f)}
    assert statuses[("fedavg", "2")] == "failed" and statuses[("fedavg", "0")] == "ok"

    # the report shows them: the table, the provenance row and the known differences
    config = tmp_path / "synthetic.yaml"
    config.write_text(yaml.safe_dump({
        "name": "synthetic", "federation": {"rounds": 12},
        "grid": {"variants": [{"algorithm": "fedavg"}, {"algorithm": "fedprox", "mu": 2.0}],
                 "stragglers": [0.9], "seeds": [0, 1, 2]}}))
    assert main(["report", "--name", "synthetic", "--config", str(config), "--reports-dir",
                 str(out)]) == 0
    text = " ".join(" ".join(p.extract_text().split())
                    for p in PdfReader(out / "report.pdf").pages)
    assert "all failed" in text
    assert "5 (0 diverged, 3 failed)" in text
    assert "Failed runs. 3 run(s) learned nothing" in text

    # and the regression check fails on them (more seeds left out than in the reference)
    reference = tmp_path / "expected.csv"
    ok_runs = tmp_path / "ok"
    fine = [write_run(ok_runs, "fedavg", 0.0, 0.9, s, flat(0.6 + 0.1 * s, 12)) for s in (0, 1, 2)]
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(ok_runs / "reports"),
                 *map(str, fine)]) == 0
    assert main(["expected", "--summary", str(ok_runs / "reports" / "summary.csv"),
                 "--out", str(reference)]) == 0
    assert main(["check", "--summary", str(out / "summary.csv"), "--expected",
                 str(reference)]) == 1


def test_targets_never_count_a_failed_run_as_reached(tmp_path, capsys) -> None:
    from tests.test_fedavg_mcmahan import write_mcmahan_run

    accuracy = [0.1, 0.5, 0.9, 0.98]
    runs = [write_mcmahan_run(tmp_path, "mcmahan-iid", "2nn", 1, 10, 0.1, s, accuracy, cap=3,
                              stop_at_target=False) for s in (0, 1)]
    _fail(runs[1], "11 of 20 client calls failed (more than half of all calls over the run)")
    out = tmp_path / "out"
    assert main(["targets", "--name", "mc", "--out-dir", str(out), *map(str, runs)]) == 0
    with (out / "targets_summary.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert (row["n_seeds"], row["n_reached"], row["n_diverged"]) == ("2", "1", "1")
    assert row["rounds_to_target_median"] == ""  # one of two seeds: not a median
    assert float(row["best_acc_mean"]) == pytest.approx(0.98)  # the failed seed left out
    with (out / "targets.csv").open() as f:
        seeds = [(r["seed"], r["status"], r["reached"], r["rounds_to_target"])
                 for r in csv.DictReader(f)]
    assert seeds == [("0", "ok", "True", "3"), ("1", "failed", "False", "")]
    text = " ".join(" ".join(p.extract_text().split())
                    for p in PdfReader(out / "report.pdf").pages)
    assert "3 -‡" in text and "“‡” failed (never counted as reached)" in text
    assert "Failed runs (“‡”). 1 run(s) learned nothing" in text

"""Reliability: bad input, interruption, divergence, failing clients, bad data, concurrency.

- Bad configuration: one table of mistakes, each refused by `fedbench run` and by the
  workflow's config validation (`snakemake -n`) before anything runs: exit code 2, no
  traceback, the key and the bad value named.
- Interruption: a SIGINT'd or SIGTERM'd `fedbench run` leaves nothing that looks complete and
  the next run gives the uninterrupted numbers (SIGKILL: tests/test_resume.py); a grid
  interrupted mid-way (Ctrl-C: SIGINT to the whole process group) completes on rerun without
  touching the cells that had finished.
- Divergence: a run that blows up is a result (`diverged`, exit 0), not an error; aggregation
  and the report show the cell as diverged.
- Failing clients: a client that raises is counted in `failed` and left out of the round.
- Data: a corrupted or truncated MNIST file is named (never silently replaced); a missing
  data directory and an unwritable output directory are clear errors.
- Concurrency: jobs building the same partition cache at once all get the same, whole file.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import copy
import csv
import io
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedbench import algorithms, protocols
from fedbench.apps import checkpoint
from fedbench.cli import main
from fedbench.data import mnist
from tests.conftest import tiny_experiment

REPO = Path(__file__).resolve().parents[1]
_BESIDE = Path(sys.executable).with_name("snakemake")
SNAKEMAKE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("snakemake") or "snakemake")
GRID = {
    "variants": [{"algorithm": "fedavg", "mu": 0.0}, {"algorithm": "fedprox", "mu": 2.0}],
    "stragglers": [0.5],
    "seeds": [0],
}


def fedbench(*args: str) -> tuple[int, str]:
    """`fedbench ARGS` in this process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def fedbench_subprocess(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fedbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        **kwargs,
    )


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]


def rounds(out: Path) -> list[dict]:
    """OUT/rounds.csv without its timing column."""
    with (out / "rounds.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def mnist_copy(root: Path, source_root: Path) -> Path:
    """A data root whose four MNIST files are symlinks to the verified ones."""
    raw = mnist.raw_dir(root)
    raw.mkdir(parents=True)
    for name in mnist.IDX_MD5:
        (raw / name).symlink_to(mnist.raw_dir(source_root) / name)
    return root


# --- bad configuration --------------------------------------------------------------------------


def _set(dotted: str, value):
    def apply(cfg: dict) -> None:
        *parents, leaf = dotted.split(".")
        node = cfg
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value

    return apply


# (what is wrong, how to break the tiny experiment, what both messages must contain: the key,
# the bad value and, where both say it alike, what is allowed)
BAD_CONFIGS = [
    (
        "unknown-algorithm",
        _set("grid.variants", [{"algorithm": "fedsgd"}]),
        ["variants", "algorithm", "fedsgd", "fedavg"],
    ),
    (
        "unknown-protocol",
        _set("protocol", "fedprox-2020"),
        ["protocol", "fedprox-2020", "flower-baseline"],
    ),
    (
        "negative-mu",
        _set("grid.variants", [{"algorithm": "fedprox", "mu": -1.0}]),
        ["variants", "mu", "-1.0"],
    ),
    (
        "fedavg-with-mu",
        _set("grid.variants", [{"algorithm": "fedavg", "mu": 1.0}]),
        ["variants", "1.0", "fedavg", "no proximal term"],
    ),
    ("stragglers-above-1", _set("grid.stragglers", [0.5, 1.5]), ["grid.stragglers", "1.5"]),
    ("stragglers-below-0", _set("grid.stragglers", [-0.1]), ["grid.stragglers", "-0.1"]),
    ("zero-rounds", _set("federation.rounds", 0), ["federation.rounds", "0"]),
    ("negative-rounds", _set("federation.rounds", -5), ["federation.rounds", "-5"]),
    (
        "more-clients-per-round-than-clients",
        _set("federation.clients_per_round", 50),
        ["clients_per_round", "50", "num_clients"],
    ),
    ("zero-lr", _set("training.lr", 0.0), ["training.lr", "0.0"]),
    ("negative-lr", _set("training.lr", -0.1), ["training.lr", "-0.1"]),
    ("infinite-lr", _set("training.lr", math.inf), ["training.lr", "inf", "finite"]),
    # (batch_size 0 is not a mistake: it is the full batch, B = ∞)
    ("negative-batch", _set("training.batch_size", -10), ["training.batch_size", "-10"]),
    ("zero-local-epochs", _set("training.local_epochs", 0), ["training.local_epochs", "0"]),
    ("unknown-top-level-key", _set("colour", "red"), ["colour", "allowed keys", "federation"]),
    (
        "unknown-nested-key",
        _set("training.nesterov", 0.9),
        ["training", "nesterov", "allowed keys", "batch_size"],
    ),
    ("rounds-as-text", _set("federation.rounds", "ten"), ["federation.rounds", "ten", "integer"]),
    (
        "rounds-as-boolean",
        _set("federation.rounds", True),
        ["federation.rounds", "True", "integer"],
    ),
    ("lr-written-1e-3", _set("training.lr", "1e-3"), ["training.lr", "1e-3", "decimal point"]),
    ("section-not-a-mapping", _set("federation", 5), ["federation", "5"]),
    ("unknown-backend", _set("runtime.backend", "mpi"), ["runtime.backend", "mpi", "inprocess"]),
    (  # the power-law split puts one group of clients on each of the 10 labels
        "clients-not-a-multiple-of-10",
        _set("federation.num_clients", 25),
        ["federation.num_clients=25", "flower-baseline", "multiple of 10"],
    ),
]
BAD_IDS = [what for what, _, _ in BAD_CONFIGS]


def _with_mu() -> str:
    return ", ".join(a.name for a in algorithms.registry().values() if a.uses_mu)


# What `fedbench run` says, word for word, where the registries word it (Snakemake's schema
# says it its own way: there only the fragments above are required).
RUN_MESSAGES = {
    "unknown-algorithm": f"unknown algorithm 'fedsgd'; allowed: {', '.join(algorithms.names())}",
    "unknown-protocol": f"unknown protocol 'fedprox-2020'; allowed: {', '.join(protocols.names())}",
    "fedavg-with-mu": "algorithm=fedavg with mu=1.0: fedavg has no proximal term; use mu=0, or "
    f"one of {_with_mu()} for mu > 0",
}
# Snakemake takes a second or two per config: there, leave out the near-duplicates.
SNAKEMAKE_BAD_IDS = [
    what
    for what in BAD_IDS
    if what
    not in {
        "negative-rounds",
        "negative-lr",
        "zero-local-epochs",
        "rounds-as-text",
        "section-not-a-mapping",
    }
]


def bad_config(tmp: Path, root: Path, what: str) -> Path:
    """The tiny experiment (with a grid) broken as `what` says, written to TMP/<what>.yaml."""
    mutate = next(m for w, m, _ in BAD_CONFIGS if w == what)
    cfg = tiny_experiment(root, grid=copy.deepcopy(GRID))
    mutate(cfg)
    return write_yaml(tmp / f"{what}.yaml", cfg)


def _named(what: str) -> list[str]:
    return next(n for w, _, n in BAD_CONFIGS if w == what)


def assert_refused(code: int, message: str, named: list[str]) -> None:
    assert code == 2, message
    assert "Traceback" not in message, message
    for fragment in named:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


@pytest.mark.parametrize("what", BAD_IDS)
def test_fedbench_run_refuses_bad_config(what: str, tmp_path: Path, mnist_root: Path) -> None:
    out = tmp_path / "out"
    code, err = fedbench(
        "run", "--config", str(bad_config(tmp_path, mnist_root, what)), "--out", str(out), "--quiet"
    )
    exact = [RUN_MESSAGES[what]] if what in RUN_MESSAGES else []
    assert_refused(code, err, [*_named(what), *exact])
    assert not out.exists()  # refused before anything was created


@pytest.mark.parametrize(
    "what", ["rounds-as-boolean", "unknown-nested-key", "more-clients-per-round-than-clients"]
)
def test_fedbench_run_refuses_bad_config_without_a_traceback(
    what: str, tmp_path: Path, mnist_root: Path
) -> None:
    proc = fedbench_subprocess(
        "run",
        "--config",
        str(bad_config(tmp_path, mnist_root, what)),
        "--out",
        str(tmp_path / "out"),
    )
    assert_refused(proc.returncode, proc.stderr, _named(what))
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--stragglers", "-0.5"], ["stragglers", "-0.5"]),
        (["--rounds", "-1"], ["federation.rounds", "-1"]),
        (["--threads", "0"], ["runtime.threads", "0"]),
        (
            ["--algorithm", "fedavg", "--mu", "2"],
            ["algorithm=fedavg with mu=2.0: fedavg has no proximal term; use mu=0, or one of "
             f"{_with_mu()} for mu > 0"],
        ),
        (["--fail-prob", "1.5"], ["--fail-prob", "1.5"]),
    ],
)
def test_fedbench_run_refuses_bad_options(options, named, tiny_config: Path, tmp_path: Path):
    code, err = fedbench(
        "run", "--config", str(tiny_config), "--out", str(tmp_path / "o"), *options
    )
    assert_refused(code, err, named)


@pytest.fixture(scope="module")
def snakemake_verdicts(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> dict:
    """`snakemake -n --configfile BAD` for every bad config (two at a time): {what: proc}."""
    base = tmp_path_factory.mktemp("bad-configs")

    def dry_run(what: str) -> tuple[str, subprocess.CompletedProcess]:
        workdir = base / what
        workdir.mkdir()
        config = bad_config(workdir, mnist_root, what)
        cmd = snakemake_cmd(workdir, "--configfile", str(config), "--dry-run")
        return what, subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(dry_run, SNAKEMAKE_BAD_IDS))


@pytest.mark.slow
@pytest.mark.parametrize("what", SNAKEMAKE_BAD_IDS)
def test_snakemake_refuses_bad_config_before_any_job(what: str, snakemake_verdicts) -> None:
    proc = snakemake_verdicts[what]
    text = proc.stdout + proc.stderr
    assert_refused(proc.returncode, text, _named(what))
    assert "Job stats" not in text and "Building DAG" not in text


NOT_A_CONFIG = {
    "not-yaml": b"federation: [1, 2\nrounds: }\n",
    "a-list": b"- federation\n- rounds\n",
}


@pytest.mark.parametrize("what", [*NOT_A_CONFIG, "not-utf8-text"])
def test_fedbench_run_refuses_a_config_that_is_not_yaml(what: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(NOT_A_CONFIG.get(what, b"\xff\xfe\x00\x01binary"))
    proc = fedbench_subprocess("run", "--config", str(path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert str(path) in proc.stderr
    assert "not valid YAML" in proc.stderr or "expected a mapping" in proc.stderr


@pytest.mark.parametrize("what", NOT_A_CONFIG)
def test_snakemake_refuses_a_config_that_is_not_yaml(what: str, tmp_path: Path) -> None:
    """Snakemake reads --configfile itself, before the workflow: its own message and exit
    code 1 (it cannot name the file; a file that is not UTF-8 even gets its traceback)."""
    path = tmp_path / "config.yaml"
    path.write_bytes(NOT_A_CONFIG[what])
    proc = subprocess.run(
        snakemake_cmd(tmp_path, "--configfile", str(path), "--dry-run"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in text, text
    assert "not valid JSON or YAML" in text or "keys at top level" in text
    assert "Job stats" not in text


# --- interruption -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path):
    """A 60-round cell checkpointing every 5 rounds, and its uninterrupted rounds.csv."""
    tmp = tmp_path_factory.mktemp("long")
    cfg = tiny_experiment(
        mnist_root,
        federation={"rounds": 60},
        training={"local_epochs": 1},
        runtime={"checkpoint_every": 5},
    )
    config = write_yaml(tmp / "long.yaml", cfg)
    args = ("--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.5", "--quiet")
    code, err = fedbench("run", "--config", str(config), "--out", str(tmp / "reference"), *args)
    assert code == 0, err
    return config, args, rounds(tmp / "reference")


def _wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_nothing_complete_and_resumes(sig, long_run, tmp_path: Path):
    config, args, reference = long_run
    out = tmp_path / "cell"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fedbench.cli",
            "run",
            "--config",
            str(config),
            "--out",
            str(out),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        _wait_for(
            lambda: (out / checkpoint.FILENAME).exists() or proc.poll() is not None,
            what="the first checkpoint",
        )
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and stderr == "fedbench: interrupted\n", stderr
    else:  # not caught: the default action, quietly
        assert proc.returncode == -signal.SIGTERM and "Traceback" not in stderr, stderr
    assert stdout == ""
    assert not (out / "rounds.csv").exists() and not (out / "run.json").exists()
    assert (out / checkpoint.FILENAME).exists()

    code, err = fedbench("run", "--config", str(config), "--out", str(out), *args)
    assert code == 0, err
    assert rounds(out) == reference
    assert not (out / checkpoint.FILENAME).exists()


def test_a_checkpoint_of_other_code_is_not_resumed(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / checkpoint.FILENAME
    checkpoint.save(path, "d", checkpoint.Checkpoint(5, {"w": np.zeros(2)}, {}))
    assert checkpoint.load(path, "d") is not None
    monkeypatch.setattr(checkpoint, "code_fingerprint", lambda: "edited-since")
    assert checkpoint.load(path, "d") is None


INTERRUPTED_GRID = {
    "variants": [{"algorithm": "fedavg", "mu": 0.0}, {"algorithm": "fedprox", "mu": 2.0}],
    "stragglers": [0.5],
    "seeds": [0, 1],
}
CELLS = [f"{v}-sf0.5/seed{s}" for v in ("fedavg-mu0.0", "fedprox-mu2.0") for s in (0, 1)]


@pytest.mark.slow
def test_grid_interrupted_with_sigint_completes_on_rerun(tmp_path: Path, mnist_root: Path):
    workdir = tmp_path / "wd"
    mnist_copy(workdir / "resources", mnist_root)
    cfg = tiny_experiment(
        Path("resources"),
        name="intr",
        federation={"rounds": 30},
        training={"local_epochs": 1},
        runtime={"checkpoint_every": 3},
        grid=INTERRUPTED_GRID,
    )
    config = write_yaml(workdir / "intr.yaml", cfg)
    cmd = snakemake_cmd(
        workdir,
        "--profile",
        str(REPO / "workflow/profiles/default"),
        "--cores",
        "2",
        "--configfile",
        str(config),
    )
    results = workdir / "results/intr"

    def done(cell: str) -> bool:
        return (results / cell / "run.json").exists()

    def running(cell: str) -> bool:
        return (results / cell / checkpoint.FILENAME).exists() and not done(cell)

    # Ctrl-C: SIGINT to snakemake and its jobs (own process group, as a terminal's)
    log = (tmp_path / "interrupted.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Two cells done and a third mid-way: with 2 cores, Snakemake started the third only
        # after registering one of the first two as finished.
        _wait_for(
            lambda: sum(map(done, CELLS)) >= 2 and any(map(running, CELLS)),
            timeout=300,
            what="two finished cells and one running",
        )
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert proc.returncode != 0

    # Reference: every cell uninterrupted (in this process; same settings, same options)
    absolute = {**cfg, "data": {"root": str(workdir / "resources")}}
    config = write_yaml(tmp_path / "intr.yaml", absolute)
    reference = {}
    for cell in CELLS:
        variant, seed = cell.split("/")
        algorithm, mu = variant.split("-sf")[0].split("-mu")
        out = tmp_path / "reference" / cell
        code, err = fedbench(
            "run",
            "--config",
            str(config),
            "--algorithm",
            algorithm,
            "--mu",
            mu,
            "--stragglers",
            "0.5",
            "--seed",
            seed.removeprefix("seed"),
            "--out",
            str(out),
            "--quiet",
        )
        assert code == 0, err
        reference[cell] = rounds(out)

    # What the interruption left: whatever looks complete is complete
    marked = {
        base64.urlsafe_b64decode(p.name).decode()
        for p in (workdir / ".snakemake/incomplete").glob("*")
    }
    finished = []
    for cell in CELLS:
        if (results / cell / "rounds.csv").exists():
            assert rounds(results / cell) == reference[cell]
        if done(cell):
            assert json.loads((results / cell / "run.json").read_text())["status"] == "ok"
            if f"results/intr/{cell}/run.json" not in marked:
                finished.append(cell)
    left = sorted(str(f.relative_to(results)) for f in results.rglob("*") if f.is_file())
    assert finished and len(finished) < len(CELLS), (finished, marked, left)
    files = [results / c / f for c in finished for f in ("rounds.csv", "run.json")]
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}

    # The same command again: the grid completes, finished cells untouched, identical numbers
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files} == before
    for cell in CELLS:
        assert rounds(results / cell) == reference[cell], cell
        assert not (results / cell / checkpoint.FILENAME).exists()
    assert (workdir / "reports/intr/report.pdf").is_file()


# --- divergence -------------------------------------------------------------------------------


def _run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def test_a_blown_up_learning_rate_is_a_diverged_result(tmp_path: Path, mnist_root: Path):
    config = write_yaml(tmp_path / "hot.yaml", tiny_experiment(mnist_root, training={"lr": 1.0e4}))
    out = tmp_path / "hot"
    code, err = fedbench(
        "run",
        "--config",
        str(config),
        "--algorithm",
        "fedprox",
        "--mu",
        "0",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0, err  # a result, not an error: the Snakemake job succeeds, the grid goes on
    assert err.startswith("diverged:") and "Traceback" not in err
    run = _run_json(out)
    rows = rounds(out)
    assert run["status"] == "diverged"
    assert run["diverged_round"] == int(rows[-1]["round"]) == run["final"]["round"] >= 1
    assert not math.isfinite(float(rows[-1]["test_loss"]))
    assert all(math.isfinite(float(r["test_loss"])) for r in rows[:-1])
    assert not (out / checkpoint.FILENAME).exists()


@pytest.mark.slow
def test_diverged_cell_is_shown_as_diverged_by_aggregate_and_report(
    tmp_path: Path, mnist_root: Path
) -> None:
    """FedProx with mu=100 (lr*mu = 3: the proximal step overshoots) beside mu=0."""
    import pandas as pd

    from fedbench.report.sections.final_accuracy import final_accuracy_rows

    config = write_yaml(
        tmp_path / "tiny.yaml",
        tiny_experiment(
            mnist_root,
            grid={
                "variants": [
                    {"algorithm": "fedprox", "mu": 0.0},
                    {"algorithm": "fedprox", "mu": 100.0},
                ],
                "stragglers": [0.0],
                "seeds": [0],
            },
        ),
    )
    dirs = []
    for mu in ("0.0", "100.0"):
        out = tmp_path / "results" / f"fedprox-mu{mu}-sf0.0" / "seed0"
        code, err = fedbench(
            "run",
            "--config",
            str(config),
            "--algorithm",
            "fedprox",
            "--mu",
            mu,
            "--out",
            str(out),
            "--quiet",
        )
        assert code == 0, err
        dirs.append(str(out))
    assert [_run_json(Path(d))["status"] for d in dirs] == ["ok", "diverged"]

    reports = tmp_path / "reports"
    code, err = fedbench("aggregate", "--name", "tiny", "--out-dir", str(reports), *dirs)
    assert code == 0, err
    summary = pd.read_csv(reports / "summary.csv")
    ok, diverged = (summary[summary["mu"] == mu].iloc[0] for mu in (0.0, 100.0))
    assert (ok["status"], ok["n_diverged"]) == ("ok", 0) and math.isfinite(ok["final_acc_mean"])
    assert (diverged["status"], diverged["n_ok"], diverged["n_diverged"]) == ("diverged", 0, 1)
    assert math.isnan(diverged["final_acc_mean"])  # never averaged into a number

    code, err = fedbench(
        "report", "--name", "tiny", "--config", str(config), "--reports-dir", str(reports)
    )
    assert code == 0, err
    assert (reports / "report.pdf").read_bytes().startswith(b"%PDF")
    _, table = final_accuracy_rows(summary)
    assert any("all diverged" in row for row in table)


# --- failing clients --------------------------------------------------------------------------


def _run_failing(config: Path, out: Path, prob: str, *extra: str) -> list[dict]:
    code, err = fedbench(
        "run",
        "--config",
        str(config),
        "--out",
        str(out),
        "--quiet",
        "--algorithm",
        "fedavg",
        "--stragglers",
        "0.5",
        "--rounds",
        "5",
        "--fail-prob",
        prob,
        *extra,
    )
    assert code == 0, err
    return rounds(out)


def test_when_every_client_fails_the_global_model_is_kept(tiny_config: Path, tmp_path: Path):
    rows = _run_failing(tiny_config, tmp_path / "all", "1.0")
    initial = rows[0]
    for row in rows[1:]:
        assert int(row["failed"]) == int(row["sampled"]) == 5
        assert int(row["examples"]) == 0
        assert (row["test_loss"], row["test_accuracy"]) == (
            initial["test_loss"],
            initial["test_accuracy"],
        )


def test_failing_clients_are_counted_and_the_others_aggregated(
    tiny_config: Path, tmp_path: Path
) -> None:
    rows = _run_failing(tiny_config, tmp_path / "some", "0.3")
    failed = [int(r["failed"]) for r in rows[1:]]
    assert sum(failed) > 0 and any(0 < f < 5 for f in failed)
    for before, row in itertools.pairwise(rows):
        assert int(row["failed"]) + int(row["dropped"]) <= int(row["sampled"])
        # the model moves exactly when some update survived (failed and dropped ones did not)
        moved = (row["test_loss"], row["test_accuracy"]) != (
            before["test_loss"],
            before["test_accuracy"],
        )
        assert moved == (int(row["examples"]) > 0), row
    accuracy = [float(r["test_accuracy"]) for r in rows]
    assert max(accuracy) > accuracy[0] + 0.1  # still learns
    # failures are a function of (seed, round, client): the same run fails the same way
    assert _run_failing(tiny_config, tmp_path / "again", "0.3") == rows


@pytest.mark.slow
@pytest.mark.ray
def test_failing_clients_under_ray_match_inprocess(tiny_config: Path, tmp_path: Path) -> None:
    inprocess = _run_failing(tiny_config, tmp_path / "inprocess", "0.3", "--rounds", "2")
    ray = _run_failing(tiny_config, tmp_path / "ray", "0.3", "--rounds", "2", "--backend", "ray")
    assert sum(int(r["failed"]) for r in ray) > 0
    assert ray == inprocess


# --- data and output locations -----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flip-a-byte", "truncate"])
def test_a_damaged_mnist_file_is_named_and_left_alone(
    damage: str, tmp_path: Path, mnist_root: Path
) -> None:
    root = mnist_copy(tmp_path / "data", mnist_root)
    name = "t10k-labels-idx1-ubyte"
    target = mnist.raw_dir(root) / name
    blob = bytearray(target.read_bytes())
    target.unlink()  # a file of its own instead of the symlink
    if damage == "flip-a-byte":
        blob[100] ^= 0xFF
    else:
        del blob[5000:]
    target.write_bytes(bytes(blob))
    config = write_yaml(tmp_path / "cfg.yaml", tiny_experiment(root))
    code, err = fedbench("run", "--config", str(config), "--out", str(tmp_path / "o"))
    assert code == 2 and "Traceback" not in err, err
    assert str(target) in err and "corrupted" in err
    assert f"fedbench data mnist --root {root}" in err  # the fix
    assert target.read_bytes() == bytes(blob)  # not silently replaced by a download
    assert not (tmp_path / "o" / "run.json").exists()


def test_a_missing_mnist_directory_is_named(tmp_path: Path, mnist_root: Path) -> None:
    config = write_yaml(tmp_path / "cfg.yaml", tiny_experiment(tmp_path / "empty-root"))
    code, err = fedbench(
        "run",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "o"),
        "--mnist-dir",
        str(tmp_path / "nowhere"),
    )
    assert code == 2 and "Traceback" not in err, err
    assert str(tmp_path / "nowhere") in err and "not a directory" in err


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_an_unwritable_output_directory_is_refused(
    where: str, tiny_config: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "sub" if where == "under-a-file" else blocker
    code, err = fedbench("run", "--config", str(tiny_config), "--out", str(out))
    assert code == 2 and "Traceback" not in err, err
    assert f"cannot create output directory {out}" in err


# --- concurrency -------------------------------------------------------------------------------

_BUILDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from fedbench.data import cache, partitioners
    labels, path, start = np.load(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    mine = partitioners.power_law(labels, 1000, 7)
    identity = cache._identity("flower-baseline", labels, 1000, 7)
    time.sleep(max(0.0, start - time.time()))
    for _ in range(5):  # build-and-save races, each load racing the others' saves
        cache.save(path, mine, identity)
        got = cache.load(path, identity, len(labels))
        assert len(got) == len(mine) and all(np.array_equal(a, b) for a, b in zip(got, mine))
    print("ok")
    """
)


@pytest.mark.slow
def test_concurrent_jobs_building_one_partition_cache(tmp_path: Path, mnist_root: Path):
    from fedbench.data import cache as partition_cache
    from fedbench.data import partitioners

    labels = mnist.read_idx(mnist.raw_dir(mnist_root) / mnist.TRAIN_LABELS).astype(np.int64)
    np.save(tmp_path / "labels.npy", labels)
    cache = partition_cache.partition_path(tmp_path, "flower-baseline", 1000, 7)
    start = str(time.time() + 3.0)  # every process past its imports by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILDER, str(tmp_path / "labels.npy"), str(cache), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(4)
    ]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert all(
        p.returncode == 0 and out == "ok\n" for p, (out, _) in zip(procs, outcomes, strict=True)
    ), [err for _, err in outcomes]
    expected = partitioners.power_law(labels, 1000, 7)
    identity = partition_cache._identity("flower-baseline", labels, 1000, 7)
    got = partition_cache.load(cache, identity, len(labels))
    assert len(got) == 1000 and all(
        np.array_equal(a, b) for a, b in zip(got, expected, strict=True)
    )
    assert sorted(p.name for p in cache.parent.iterdir()) == [cache.name]  # no temp files left

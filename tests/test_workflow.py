"""The Snakemake workflow: what it plans, what config it refuses, and what it reruns.

Every snakemake call runs with ``--directory`` in a temporary folder, so the tests neither
read nor write the repository's results/, reports/ or .snakemake/. The end-to-end tests run a
2-cell x 3-round grid on a copy-free data root (symlinks to the verified MNIST files).
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "default.yaml"
_BESIDE = Path(sys.executable).with_name("snakemake")
SNAKEMAKE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("snakemake") or "snakemake")


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the repository's workflow with `workdir` as working directory."""
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)


def output_of(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run as {rule: count}; {} when nothing is to be done."""
    counts: dict[str, int] = {}
    lines = iter(output_of(proc).splitlines())
    for line in lines:
        if line.startswith("Job stats:"):
            break
    for line in lines:
        m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
        elif counts and not line.strip():
            break
    return counts


def dry_run(workdir: Path, config: Path, *args: str) -> dict[str, int]:
    proc = snakemake(workdir, "--configfile", str(config), "--dry-run", "--quiet", "rules", *args)
    assert proc.returncode == 0, output_of(proc)
    return job_counts(proc)


# --- planning ---------------------------------------------------------------------------------


def test_default_config_plans_the_45_cell_grid(tmp_path: Path) -> None:
    proc = snakemake(tmp_path, "--configfile", str(DEFAULT_CONFIG), "--dry-run")
    assert proc.returncode == 0, output_of(proc)
    counts = job_counts(proc)
    assert counts["simulate"] == 45
    assert counts["aggregate"] == counts["report"] == 1

    # every cell exactly once, and the wildcards give back the config's values exactly
    cells = set()
    for m in re.finditer(
        r"wildcards: name=fedprox-mnist, variant=(\w+)-mu([^,]+), "
        r"stragglers=([^,]+), seed=(\d+)",
        output_of(proc),
    ):
        cells.add((m.group(1), float(m.group(2)), float(m.group(3)), int(m.group(4))))
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    grid = config["grid"]
    expected = {
        (v["algorithm"], float(v["mu"]), float(s), int(seed))
        for v, s, seed in itertools.product(grid["variants"], grid["stragglers"], grid["seeds"])
    }
    assert cells == expected
    assert "results/fedprox-mnist/fedprox-mu2.0-sf0.9/seed4/rounds.csv" in output_of(proc)


def test_config_overrides_reach_the_run_config(tmp_path: Path) -> None:
    """`--config` values (nested ones included) end up in the file every cell runs with."""
    proc = snakemake(
        tmp_path,
        "--configfile",
        str(DEFAULT_CONFIG),
        "--cores",
        "1",
        "--config",
        "federation={rounds: 7}",
        "name=override",
        "--",
        "results/override/run_config.yaml",
    )
    assert proc.returncode == 0, output_of(proc)
    written = yaml.safe_load((tmp_path / "results/override/run_config.yaml").read_text())
    assert written["name"] == "override"
    assert written["federation"] == {"num_clients": 1000, "clients_per_round": 10, "rounds": 7}
    assert "grid" not in written  # a new seed must not rerun the finished cells
    assert "threads" not in written["runtime"]  # given per job as --threads


# --- config validation ------------------------------------------------------------------------


def _set(path: str, value):
    def apply(cfg: dict) -> None:
        *parents, leaf = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[leaf] = value

    return apply


BAD_CONFIGS = [
    # (what is wrong, how to break configs/default.yaml, what the message must name)
    ("unknown top-level key", _set("colour", "red"), ["(top level)", "'colour'"]),
    ("unknown nested key", _set("training.nesterov", 0.9), ["training", "'nesterov'"]),
    ("stragglers above 1", _set("grid.stragglers", [0.0, 1.5]), ["grid.stragglers[1]", "1.5"]),
    (
        "negative mu",
        _set("grid.variants", [{"algorithm": "fedprox", "mu": -1}]),
        ["grid.variants[0].mu", "-1"],
    ),
    ("zero rounds", _set("federation.rounds", 0), ["federation.rounds", "minimum of 1"]),
    (
        "unknown algorithm",
        _set("grid.variants", [{"algorithm": "fedsgd", "mu": 0}]),
        ["grid.variants[0].algorithm", "'fedsgd'"],
    ),
    (
        "rounds of the wrong type",
        _set("federation.rounds", "ten"),
        ["federation.rounds", "'ten'", "integer"],
    ),
    ("non-positive learning rate", _set("training.lr", 0), ["training.lr"]),
    ("unknown backend", _set("runtime.backend", "mpi"), ["runtime.backend", "'mpi'"]),
    (
        "fedavg with mu",
        _set("grid.variants", [{"algorithm": "fedavg", "mu": 2.0}]),
        ["grid.variants[0].mu", "fedavg", "no proximal term: mu must be 0"],
    ),
    # not expressible in JSON Schema: checked by fedbench.config right after it
    (
        "more clients per round than clients",
        _set("federation.clients_per_round", 5000),
        ["clients_per_round", "5000"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [(m, n) for _, m, n in BAD_CONFIGS],
    ids=[what for what, _, _ in BAD_CONFIGS],
)
def test_bad_config_is_refused_before_any_job(tmp_path: Path, mutate, named: list[str]) -> None:
    config = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    mutate(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "--configfile", str(path), "--dry-run")
    assert proc.returncode != 0
    text = output_of(proc)
    assert "invalid config" in text
    for fragment in named:
        assert fragment in text, text
    assert "Job stats" not in text


# --- hygiene ----------------------------------------------------------------------------------


def test_lint_is_clean(tmp_path: Path) -> None:
    proc = snakemake(tmp_path, "--configfile", str(DEFAULT_CONFIG), "--lint")
    assert proc.returncode == 0, output_of(proc)
    assert "Congratulations, your workflow is in a good condition!" in output_of(proc)
    for fixed in (
        "Mixed rules and functions",
        "Absolute path",
        "Path composition",
        "is a prefix of input or output",
        "directly uses variable",
        "No log directive",
        "Specify a conda environment",
    ):
        assert fixed not in output_of(proc)


@pytest.mark.parametrize("profile", ["default", "slurm", "gpu"])
def test_profiles_parse(tmp_path: Path, profile: str) -> None:
    """The profiles load; the cluster one gives simulate jobs their own resources.

    (--executor dryrun stands in for slurm, whose plugin need not be installed here.)"""
    proc = snakemake(
        tmp_path,
        "--profile",
        str(REPO / "workflow/profiles" / profile),
        "--configfile",
        str(DEFAULT_CONFIG),
        "--executor",
        "dryrun",
        "--dry-run",
    )
    assert proc.returncode == 0, output_of(proc)
    assert job_counts(proc)["simulate"] == 45
    if profile == "slurm":
        assert re.search(
            r"rule simulate:(?:.|\n)*?resources: .*mem_mb=3000.*runtime=30", output_of(proc)
        )


def test_cuda_cells_hold_a_gpu_resource_and_cpu_cells_none(tmp_path: Path) -> None:
    """With runtime.device: cuda every cell takes one `gpu` (the gpu profile has one)."""
    def simulate_resources(*args: str) -> set[str]:
        proc = snakemake(tmp_path, "--configfile", str(DEFAULT_CONFIG), "--dry-run", *args)
        assert proc.returncode == 0, output_of(proc)
        jobs = re.findall(r"rule simulate:(?:.|\n)*?resources: ([^\n]*)", output_of(proc))
        assert len(jobs) == 45
        return set(jobs)

    cuda = simulate_resources("--profile", str(REPO / "workflow/profiles/gpu"),
                              "--config", "runtime={device: cuda}")
    assert all(re.search(r"\bgpu=1\b", line) for line in cuda), cuda
    cpu = simulate_resources()
    assert not any(re.search(r"\bgpu=[1-9]", line) for line in cpu), cpu


# --- a tiny grid, end to end ------------------------------------------------------------------

TINY = {
    "name": "tiny",
    "protocol": "flower-baseline",
    "data": {"root": "resources"},
    "federation": {"num_clients": 20, "clients_per_round": 5, "rounds": 3},
    "training": {
        "model": "logreg",
        "local_epochs": 3,
        "batch_size": 10,
        "lr": 0.03,
        "weight_decay": 0.001,
    },
    "runtime": {"backend": "inprocess", "device": "cpu", "threads": 1},
    "grid": {
        "variants": [{"algorithm": "fedavg", "mu": 0.0}, {"algorithm": "fedprox", "mu": 2.0}],
        "stragglers": [0.5],
        "seeds": [0],
    },
}
CELLS = ("fedavg-mu0.0-sf0.5/seed0", "fedprox-mu2.0-sf0.5/seed0")


@pytest.fixture(scope="module")
def tiny_workflow(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path):
    """A working directory with data (symlinked), tiny.yaml, and one complete run of it."""
    from fedbench.data import mnist

    workdir = tmp_path_factory.mktemp("workflow")
    raw = mnist.raw_dir(workdir / "resources")
    raw.mkdir(parents=True)
    for name in mnist.IDX_MD5:
        (raw / name).symlink_to(mnist.raw_dir(mnist_root) / name)
    config = workdir / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY, sort_keys=False))
    first = snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return workdir, config, first


def run_tiny(tiny_workflow, *args: str) -> subprocess.CompletedProcess:
    workdir, config, _ = tiny_workflow
    return snakemake(workdir, "--configfile", str(config), "--cores", "2", *args)


@pytest.mark.slow
def test_tiny_grid_runs_end_to_end(tiny_workflow) -> None:
    workdir, _, first = tiny_workflow
    assert first.returncode == 0, output_of(first)
    counts = job_counts(first)
    assert counts["simulate"] == 2 and counts["aggregate"] == counts["report"] == 1
    assert "data" not in counts  # MNIST already there: nothing fetched

    for cell in CELLS:
        run_dir = workdir / "results/tiny" / cell
        with (run_dir / "rounds.csv").open() as f:
            rounds = [int(r["round"]) for r in csv.DictReader(f)]
        assert rounds[-1] == 3 and {1, 2, 3} <= set(rounds)  # (round 0: the initial model)
        run = json.loads((run_dir / "run.json").read_text())
        assert run["config"]["federation"]["rounds"] == 3
        assert (workdir / f"logs/tiny/simulate/{cell}.log").is_file()

    reports = workdir / "reports/tiny"
    with (reports / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["algorithm"], float(r["mu"]), float(r["stragglers"])) for r in rows) == [
        ("fedavg", 0.0, 0.5),
        ("fedprox", 2.0, 0.5),
    ]
    assert all(r["name"] == "tiny" and int(r["n_seeds"]) == 1 for r in rows)
    assert (reports / "report.pdf").read_bytes().startswith(b"%PDF")
    # the onsuccess handler's last word names the report this run wrote
    assert "fedbench: wrote the report reports/tiny/report.pdf" in first.stderr
    for figure in ("curves", "final_accuracy"):
        for ext in ("png", "pdf"):
            assert (reports / "figures" / f"{figure}.{ext}").stat().st_size > 0


@pytest.mark.slow
def test_second_run_has_nothing_to_do(tiny_workflow) -> None:
    proc = run_tiny(tiny_workflow)
    assert proc.returncode == 0, output_of(proc)
    assert "Nothing to be done" in output_of(proc)


@pytest.mark.slow
def test_deleted_cell_reruns_alone_with_aggregate_and_report(tiny_workflow) -> None:
    workdir = tiny_workflow[0]
    gone, kept = (workdir / "results/tiny" / cell for cell in CELLS)
    before = {p: p.stat().st_mtime_ns for p in (kept / "rounds.csv", kept / "run.json")}
    (gone / "rounds.csv").unlink()

    assert job_counts(run_tiny(tiny_workflow, "--dry-run")) == {
        "simulate": 1,
        "aggregate": 1,
        "report": 1,
        "all": 1,
    }
    proc = run_tiny(tiny_workflow)
    assert proc.returncode == 0, output_of(proc)
    assert (gone / "rounds.csv").is_file()
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert "Nothing to be done" in output_of(run_tiny(tiny_workflow, "--dry-run"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # a new seed: only the new cells run
        (
            "grid={variants: [{algorithm: fedavg}, {algorithm: fedprox, mu: 2}],"
            " stragglers: [0.5], seeds: [0, 1]}",
            {"resolved_config": 1, "simulate": 2, "aggregate": 1, "report": 1},
        ),
        # a setting of every cell: the whole grid reruns
        (
            "federation={rounds: 4}",
            {"resolved_config": 1, "run_config": 1, "simulate": 2, "aggregate": 1, "report": 1},
        ),
        # threads do not change the numbers: no cell reruns
        ("runtime={threads: 2}", {"resolved_config": 1, "report": 1}),
    ],
    ids=["new-seed", "rounds", "threads"],
)
def test_config_changes_rerun_what_they_affect(tiny_workflow, override: str, expected) -> None:
    assert run_tiny(tiny_workflow).returncode == 0  # complete, whatever ran before
    counts = job_counts(run_tiny(tiny_workflow, "--dry-run", "--config", override))
    counts.pop("all", None)
    assert counts == expected

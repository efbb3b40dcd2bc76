"""No temporary file is left behind on any exit path (issue 13, class 7).

Every file fedbench writes goes through ``fedbench.io.atomic_write``: a temporary name in
the same directory, then a rename. Its cleanup runs on any exception; SIGINT is one
(KeyboardInterrupt) and, since ``fedbench.cli`` raises SIGTERM as ``Terminated``, so is
SIGTERM. These tests stop a real `fedbench report` or `fedbench data` *while a temporary
file exists* (its fsync is held up until the test has sent the signal) and list the
directory afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fedbench.cli import main
from tests.test_aggregate import flat, write_run

REPO = Path(__file__).resolve().parents[1]

# `python -c` with fsync held up: the marker file appears once a temporary file is written
SLOW_FSYNC = """
import os, sys, time
marker = sys.argv[1]
real = os.fsync
def held(fd):
    real(fd)
    open(marker, "w").close()
    time.sleep(120)
os.fsync = held
from fedbench.cli import main
sys.exit(main(sys.argv[2:]))
"""


def held_up(marker: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLOW_FSYNC, str(marker), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_mid_write(proc: subprocess.Popen, marker: Path, sig: int) -> tuple[int, str]:
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary file was ever written"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def temporary_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.name.startswith(".") and ".tmp" in p.name)


@pytest.fixture
def reports(tmp_path: Path) -> tuple[Path, Path]:
    runs = [write_run(tmp_path / "results", a, m, 0.9, s, flat(0.5 + 0.1 * s, 4))
            for a, m in (("fedavg", 0.0), ("fedprox", 2.0)) for s in (0, 1)]
    out = tmp_path / "reports"
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(out),
                 *map(str, runs)]) == 0
    config = tmp_path / "synthetic.yaml"
    config.write_text(yaml.safe_dump({
        "name": "synthetic", "federation": {"rounds": 4},
        "grid": {"variants": [{"algorithm": "fedavg"}, {"algorithm": "fedprox", "mu": 2.0}],
                 "stragglers": [0.9], "seeds": [0, 1]}}))
    return out, config


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_fedbench_report_stopped_mid_write_leaves_no_temporary_file(tmp_path, reports,
                                                                     sig) -> None:
    out, config = reports
    before = sorted(p.name for p in out.iterdir())
    marker = tmp_path / "writing"
    proc = held_up(marker, "report", "--name", "synthetic", "--config", str(config),
                   "--reports-dir", str(out))
    code, err = stop_mid_write(proc, marker, sig)
    if sig == signal.SIGINT:
        assert code == 130 and "fedbench: interrupted" in err
    else:  # cleanup ran, then the process ended by SIGTERM (a shell reports 143)
        assert code == -signal.SIGTERM and "fedbench: terminated" in err
    assert "Traceback" not in err
    assert temporary_files(out) == []
    assert not (out / "report.pdf").exists()  # nothing that looks complete
    assert sorted(p.name for p in out.iterdir() if p.name != "figures") == before


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_fedbench_data_stopped_mid_write_leaves_no_temporary_file(tmp_path, mnist_root,
                                                                   sig) -> None:
    from fedbench.data import mnist

    marker = tmp_path / "writing"
    root = tmp_path / "data"
    proc = held_up(marker, "data", "mnist", "--root", str(root), "--mnist-dir",
                   str(mnist.raw_dir(mnist_root)))
    code, err = stop_mid_write(proc, marker, sig)
    assert code == (130 if sig == signal.SIGINT else -signal.SIGTERM), err
    assert "Traceback" not in err
    assert temporary_files(root) == []


def test_a_full_disk_in_fedbench_data_leaves_no_temporary_file(tmp_path, mnist_root) -> None:
    """(The case of the issue: `.<name>.<pid>.tmp` after a full disk.)"""
    from fedbench.data import mnist
    from tests.test_resource_errors import tmpfs

    with tmpfs(tmp_path / "disk", size="2m") as disk:
        code = subprocess.run(
            [sys.executable, "-m", "fedbench.cli", "data", "mnist", "--root", str(disk),
             "--mnist-dir", str(mnist.raw_dir(mnist_root))],
            capture_output=True, text=True, cwd=REPO, timeout=120, check=False).returncode
        assert code == 2
        assert temporary_files(disk) == []

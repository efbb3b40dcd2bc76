"""Benchmark settings: size (full figures or a small CI run), data, and the figures' summary.

    pytest benchmarks                          # full size: the figures in README "Performance"
    pytest benchmarks --benchmark-disable      # small size, seconds to minutes: what CI runs
    FEDBENCH_BENCH_SIZE=full|small pytest benchmarks ...   # or --bench-size, to choose

Every benchmark prints ``BENCH <name> key=value ...`` lines (collected again at the
end of the session) and asserts only that its fast and reference paths give
identical numbers; speed is reported, never asserted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

_LINES: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-size",
        choices=("full", "small"),
        default=None,
        help="benchmark size (default: small with --benchmark-disable, else full; "
        "or FEDBENCH_BENCH_SIZE)",
    )
    parser.addoption(
        "--bench-grid",
        action="store_true",
        default=False,
        help="also time the full default grid with snakemake (about 5 minutes)",
    )


@pytest.fixture(scope="session")
def size(request: pytest.FixtureRequest) -> harness.Size:
    choice = request.config.getoption("--bench-size") or os.environ.get("FEDBENCH_BENCH_SIZE")
    if not choice:
        disabled = bool(request.config.getoption("benchmark_disable", default=False))
        choice = "small" if disabled else "full"
    return {"full": harness.FULL, "small": harness.SMALL}[choice]


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """A data root with verified MNIST (the repo's resources/, fetched there if missing)."""
    from fedbench.data import mnist

    root = Path(os.environ.get("FEDBENCH_DATA_ROOT", harness.REPO / "resources"))
    mnist.ensure_mnist(root)
    return root


@pytest.fixture(scope="session")
def bench_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where runs write (FEDBENCH_BENCH_OUT keeps them, e.g. for the plot script)."""
    keep = os.environ.get("FEDBENCH_BENCH_OUT")
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("bench")


@pytest.fixture
def figures():
    """``figures(name, **values)``: print a BENCH line and keep it for the session summary."""

    def emit(name: str, **values) -> str:
        line = harness.report(name, **values)
        _LINES.append(line)
        return line

    return emit


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _LINES:
        terminalreporter.section("fedbench figures")
        for line in _LINES:
            terminalreporter.write_line(line)

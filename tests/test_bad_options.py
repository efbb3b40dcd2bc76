"""The smaller items of issue 13: options and references that used to pass or crash.

- `fedbench expected --k nan` (or --floor) exited 0 with every band NaN; `fedbench check
  --close-tol nan` failed every claim: non-finite values are refused (exit 2).
- An expected CSV whose ``metric`` column names a non-numeric column gave a traceback.
- ``data.root: ""`` was accepted by `fedbench run` (and refused by the schema).
(Duplicate keys and the quoted-number hint: tests/test_resource_errors.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fedbench.cli import main
from tests.test_aggregate import flat, write_run


@pytest.fixture
def summary(tmp_path: Path) -> Path:
    runs = [write_run(tmp_path / "results", a, m, 0.9, s, flat(0.5 + 0.05 * s, 4))
            for a, m in (("fedavg", 0.0), ("fedprox", 2.0)) for s in (0, 1, 2)]
    out = tmp_path / "reports"
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(out),
                 *map(str, runs)]) == 0
    return out / "summary.csv"


@pytest.mark.parametrize("option", ["--k", "--floor"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_expected_refuses_a_band_option_that_is_not_a_finite_number(tmp_path, capsys, summary,
                                                                    option, value) -> None:
    out = tmp_path / "expected.csv"
    assert main(["expected", "--summary", str(summary), "--out", str(out),
                 f"{option}={value}"]) == 2
    assert f"{option} must be a finite number >= 0 (got {float(value)})" in \
        capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-0.1"])
def test_check_refuses_a_close_tol_that_is_not_a_finite_number(tmp_path, capsys, summary,
                                                                value) -> None:
    expected = tmp_path / "expected.csv"
    assert main(["expected", "--summary", str(summary), "--out", str(expected)]) == 0
    capsys.readouterr()
    assert main(["check", "--summary", str(summary), "--expected", str(expected),
                 f"--close-tol={value}"]) == 2
    assert f"--close-tol must be a finite number >= 0 (got {float(value)})" in \
        capsys.readouterr().err


@pytest.mark.parametrize("column", ["variant", "status", "name", "nonexistent"])
def test_a_metric_that_is_not_a_numeric_column_is_a_message(tmp_path, capsys, summary,
                                                            column) -> None:
    expected = tmp_path / "expected.csv"
    assert main(["expected", "--summary", str(summary), "--out", str(expected)]) == 0
    expected.write_text(expected.read_text().replace("last10_acc_mean", column))
    capsys.readouterr()
    assert main(["check", "--summary", str(summary), "--expected", str(expected)]) == 2
    err = capsys.readouterr().err
    assert f"column 'metric' names '{column}', not a numeric column of the summary" in err
    assert "allowed: " in err and "last10_acc_mean" in err and "Traceback" not in err


@pytest.mark.parametrize("key", ["root", "mnist_dir"])
def test_an_empty_data_path_is_refused_as_the_schema_refuses_it(tmp_path, capsys, key) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"name: x\ndata:\n  {key}: ''\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "--out", str(out)]) == 2
    assert f"data.{key}: String should have at least 1 character (got '')" in \
        capsys.readouterr().err
    assert not out.exists()


def test_snakemake_refuses_an_empty_data_path_too(tmp_path) -> None:
    import yaml

    from tests.test_workflow import REPO, output_of, snakemake

    config = yaml.safe_load((REPO / "configs" / "quick.yaml").read_text())
    for key in ("root", "mnist_dir"):
        config["data"] = {"root": "resources", key: ""}
        path = tmp_path / f"{key}.yaml"
        path.write_text(yaml.safe_dump(config))
        proc = snakemake(tmp_path, "--configfile", str(path), "--dry-run")
        assert proc.returncode == 2, output_of(proc)[-1500:]
        assert f"data.{key}" in proc.stderr

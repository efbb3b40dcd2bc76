"""Resource limits and the machine's errors give a message and exit 2, never a traceback
(issue 13, class 6), and the smaller config items of the same test.

- A YAML file of a few hundred bytes that nested anchors and aliases expand to millions of
  values is refused quickly, by `fedbench run` and by snakemake, with a short message; every
  value echoed in an error message is bounded.
- A full disk, a read-only file system and an unwritable output directory end in exit 2
  naming the path and the reason. These use real tmpfs mounts (root only); where mounting is
  not permitted the tests are skipped and say why.
- A key given twice in a YAML file is refused, naming the key; a quoted number gets a hint
  that says so.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fedbench.cli import main

REPO = Path(__file__).resolve().parents[1]

LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
name: *i
"""


def fedbench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedbench.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, check=False)


# --- values echoed in messages ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["name", "grid-seeds"])
def test_a_billion_laughs_config_is_refused_quickly_and_briefly(tmp_path, where) -> None:
    text = LAUGHS if where == "name" else LAUGHS.replace("name: *i", "grid: {seeds: *i}")
    config = tmp_path / "laughs.yaml"
    config.write_text(text)
    assert len(text) < 600
    started = time.monotonic()
    proc = fedbench("run", "--config", str(config), "--out", str(tmp_path / "out"))
    assert time.monotonic() - started < 30
    assert proc.returncode == 2
    assert "holds more than 100,000 values once its YAML anchors and aliases are expanded" \
        in proc.stderr
    assert len(proc.stderr) < 600 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_snakemake_refuses_it_too(tmp_path) -> None:
    from tests.test_workflow import output_of, snakemake

    config = tmp_path / "laughs.yaml"
    config.write_text(LAUGHS)
    started = time.monotonic()
    proc = snakemake(tmp_path, "--configfile", str(config), "--dry-run", timeout=120)
    assert time.monotonic() - started < 60
    assert proc.returncode == 2, output_of(proc)[-2000:]
    assert "holds more than 100,000 values" in proc.stderr and len(proc.stderr) < 800


def test_every_echoed_value_is_bounded(tmp_path, capsys) -> None:
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump({"name": "x", "training": {"model": "m" * 100_000},
                                      "federation": {"rounds": [[list(range(20))] * 20] * 20}}))
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err) < 1500 and "training.model" in err and "federation.rounds" in err
    assert "mmmmmmmm..." in err  # the value, cut


# --- the smaller items: duplicate keys, quoted numbers -----------------------------------------


def test_a_key_given_twice_is_refused_naming_it(tmp_path, capsys) -> None:
    config = tmp_path / "twice.yaml"
    config.write_text("name: x\nfederation:\n  rounds: 3\n  clients_per_round: 5\n  rounds: 5\n")
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    assert f"config file {config}: key 'rounds' is given twice (lines 3 and 5); keep one" \
        in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_snakemake_refuses_a_key_given_twice_in_its_configfile(tmp_path) -> None:
    from tests.test_workflow import output_of, snakemake

    config = tmp_path / "twice.yaml"
    base = (REPO / "configs" / "quick.yaml").read_text()
    config.write_text(base + "\nname: other\n")
    proc = snakemake(tmp_path, "--configfile", str(config), "--dry-run")
    assert proc.returncode == 2, output_of(proc)[-2000:]
    assert "key 'name' is given twice" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("line", "hint"), [
    ("training: {lr: '0.5'}", "training.lr: Input should be a valid number (got '0.5'); this is "
                              "the text '0.5', not a number: write the number without quotes"),
    ("federation: {rounds: '5'}", "this is the text '5', not a number: write the number "
                                  "without quotes"),
    ("training: {lr: 1e-3}", "YAML reads 1e-3 as text (an exponent without a decimal point): "
                             "write it with a decimal point, e.g. 1.0e-3"),
    ("federation: {rounds: 1e2}", "YAML reads 1e2 as text: write the whole number in digits"),
])
def test_the_hint_for_a_number_read_as_text_says_what_to_do(tmp_path, capsys, line,
                                                             hint) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"name: x\n{line}\n")
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    assert hint in capsys.readouterr().err


def test_snakemake_gives_the_same_hint_for_a_quoted_number(tmp_path) -> None:
    from tests.test_workflow import output_of, snakemake

    config = tmp_path / "quoted.yaml"
    base = yaml.safe_load((REPO / "configs" / "quick.yaml").read_text())
    base["training"]["lr"] = "0.5"
    config.write_text(yaml.safe_dump(base))
    proc = snakemake(tmp_path, "--configfile", str(config), "--dry-run")
    assert proc.returncode == 2, output_of(proc)[-2000:]
    assert "this is the text '0.5', not a number: write the number without quotes" in proc.stderr


# --- the machine: full disk, read-only, unwritable -------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "64k", readonly: bool = False) -> Iterator[Path]:
    """A real tmpfs at ``path`` (root only): a small disk that fills up, or a read-only one."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if readonly else "")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not permitted'}): "
                    "the full-disk and read-only cases need root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> None:
    """Leave no free block on ``disk``."""
    with contextlib.suppress(OSError), (disk / "fill").open("wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()


@pytest.mark.slow
def test_a_full_disk_ends_fedbench_run_with_the_path(tmp_path, tiny_config) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        (disk / "cell").mkdir()
        fill(disk)
        proc = fedbench("run", "--config", str(tiny_config), "--out", str(disk / "cell"),
                        "--quiet")
        assert proc.returncode == 2, proc.stderr
        assert f"fedbench: error: {disk / 'cell' / 'rounds.csv'}: No space left on device" \
            in proc.stderr
        assert "Traceback" not in proc.stderr
        # no temporary file; only the (empty) lock file of the run
        assert sorted(p.name for p in (disk / "cell").iterdir()) == [".lock"]


def test_a_full_disk_ends_fedbench_data_with_the_path_and_no_temporary_file(
        tmp_path, mnist_root) -> None:
    from fedbench.data import mnist

    with tmpfs(tmp_path / "disk", size="1m") as disk:
        proc = fedbench("data", "mnist", "--root", str(disk / "data"), "--mnist-dir",
                        str(mnist.raw_dir(mnist_root)))
        assert proc.returncode == 2, proc.stderr
        raw = mnist.raw_dir(disk / "data")
        assert f"fedbench: error: {raw}/" in proc.stderr and "No space left on device" \
            in proc.stderr
        assert "Traceback" not in proc.stderr
        assert [p.name for p in raw.iterdir() if p.name.endswith(".tmp")] == []


def test_a_read_only_output_directory_ends_with_the_path(tmp_path, tiny_config) -> None:
    with tmpfs(tmp_path / "ro", readonly=True) as ro:
        proc = fedbench("run", "--config", str(tiny_config), "--out", str(ro / "cell"))
        assert proc.returncode == 2
        assert f"cannot create output directory {ro / 'cell'}: Read-only file system" \
            in proc.stderr
        proc = fedbench("run", "--config", str(tiny_config), "--out", str(ro))
        assert proc.returncode == 2 and f"output directory {ro} is not writable" in proc.stderr
        runs = [str(p) for p in _fake_runs(tmp_path / "results")]
        proc = fedbench("aggregate", "--name", "synthetic", "--out-dir", str(ro / "rep"), *runs)
        assert proc.returncode == 2
        assert f"fedbench: error: {ro / 'rep'}: Read-only file system" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_an_unwritable_output_directory_ends_with_the_path(tmp_path, tiny_config) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into any directory: the read-only mount above covers it")
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    proc = fedbench("run", "--config", str(tiny_config), "--out", str(out))
    assert proc.returncode == 2 and f"output directory {out} is not writable" in proc.stderr


def _fake_runs(root: Path) -> list[Path]:
    from tests.test_aggregate import flat, write_run

    return [write_run(root, "fedavg", 0.0, 0.0, s, flat(0.5, 3)) for s in (0, 1)]


def test_any_os_error_is_a_message_with_the_path(tmp_path, capsys) -> None:
    """The central rule (fedbench.cli): an OSError anywhere in a command is exit 2."""
    runs = [str(p) for p in _fake_runs(tmp_path / "results")]
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["aggregate", "--name", "synthetic", "--out-dir", str(blocker / "rep"),
                 *runs]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fedbench: error: {blocker / 'rep'}: Not a directory")

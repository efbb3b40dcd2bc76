"""Fashion-MNIST's routes, each offline: tiny fake IDX files stand for the dataset (their
MD5s replace the canonical ones), torchvision's class is replaced by one that fails like a
machine without internet, and fake ``apt-get``/``dpkg-deb`` executables on PATH stand for
Debian's tools (the real subprocess calls run)."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from fedbench import cli
from fedbench.config import DataConfig
from fedbench.data import fashion_mnist as fm
from fedbench.data import idx
from fedbench.errors import DataError

NAMES = tuple(fm.IDX_MD5)


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """Four tiny IDX arrays whose MD5s become the 'canonical' ones for the test."""
    rng = np.random.default_rng(0)
    arrays = {
        NAMES[0]: rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, 6).astype(np.uint8),
        NAMES[2]: rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, 3).astype(np.uint8),
    }
    for name, arr in arrays.items():
        monkeypatch.setitem(fm.IDX_MD5, name, _md5(idx.idx_bytes(arr)))
    return arrays


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """torchvision's FashionMNIST fails as it does offline; each call is recorded. Debian's
    installed path points nowhere, and the real tools are off PATH unless a test adds fakes."""
    import torchvision.datasets

    calls: list[tuple] = []

    class Offline:
        def __init__(self, root, train=True, download=False, **_kw):
            calls.append((root, train, download))
            raise RuntimeError(
                "Error downloading train-images-idx3-ubyte.gz: "
                f"{URLError('[Errno -2] Name or service not known')}"
            )

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    monkeypatch.delenv("FEDBENCH_OFFLINE", raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", Path("/nonexistent-fedbench/usr/share/datasets/fmnist"))
    return calls


def _md5(blob: bytes) -> str:
    import hashlib

    return hashlib.md5(blob).hexdigest()


def _write(directory: Path, arrays: dict[str, np.ndarray], gz: set[str] = frozenset()) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        blob = idx.idx_bytes(arr)
        if name in gz:
            # recompressed with another level, as Debian's files are: the .gz bytes differ
            (directory / f"{name}.gz").write_bytes(gzip.compress(blob, compresslevel=1))
        else:
            (directory / name).write_bytes(blob)
    return directory


def _assert_reads_back(root: Path, arrays: dict[str, np.ndarray]) -> None:
    train_x, train_y, test_x, test_y = fm.read_fashion_mnist(root)
    assert (train_x.dtype, train_x.shape) == (np.uint8, (6, 28, 28))
    assert (train_y.dtype, test_y.dtype, test_x.dtype) == (np.int64, np.int64, np.uint8)
    np.testing.assert_array_equal(train_x, arrays[NAMES[0]])
    np.testing.assert_array_equal(train_y, arrays[NAMES[1]])
    np.testing.assert_array_equal(test_x, arrays[NAMES[2]])
    np.testing.assert_array_equal(test_y, arrays[NAMES[3]])


# --- route 1: the user's directory ------------------------------------------------------------


@pytest.mark.parametrize("gz", [set(), set(NAMES), {NAMES[0], NAMES[3]}],
                         ids=["plain", "gzipped", "mixed"])
def test_user_directory_is_copied_uncompressed_and_verified(
    tmp_path: Path, fake_data: dict, no_network: list, gz: set[str]
) -> None:
    src = _write(tmp_path / "mine", fake_data, gz)
    logs: list[str] = []
    where = fm.ensure_fashion_mnist(tmp_path / "root", user_dir=src, log=logs.append)
    assert where == tmp_path / "root" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in where.iterdir()) == sorted(NAMES)  # uncompressed only
    for name in NAMES:
        assert idx.md5_of(where / name) == fm.IDX_MD5[name]
    assert no_network == []  # the first route worked: torchvision never asked
    assert logs == [f"Fashion-MNIST: trying directory {src}", f"Fashion-MNIST: verified in {where}"]
    _assert_reads_back(tmp_path / "root", fake_data)


def test_a_mistyped_user_directory_fails_before_any_download(
    tmp_path: Path, no_network: list
) -> None:
    with pytest.raises(DataError, match=r"--dir / data.fashion_mnist_dir .*nowhere"):
        fm.ensure_fashion_mnist(tmp_path / "root", user_dir=tmp_path / "nowhere")
    assert no_network == []


def test_a_user_directory_missing_a_file_is_named_and_the_next_route_tried(
    tmp_path: Path, fake_data: dict, no_network: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _write(tmp_path / "mine", {n: a for n, a in fake_data.items() if n != NAMES[2]})
    monkeypatch.setattr(fm, "DEBIAN_DIR", _write(tmp_path / "installed", fake_data, set(NAMES)))
    logs: list[str] = []
    fm.ensure_fashion_mnist(tmp_path / "root", user_dir=src, log=logs.append)
    assert [m.split(" (")[0] for m in logs if "trying" in m] == [
        f"Fashion-MNIST: trying directory {src}",
        "Fashion-MNIST: trying torchvision download",
        "Fashion-MNIST: trying installed Debian package dataset-fashion-mnist",
    ]
    _assert_reads_back(tmp_path / "root", fake_data)


# --- route 2: torchvision, failing offline --------------------------------------------------


def test_torchvision_failure_is_named_and_the_installed_debian_files_are_used(
    tmp_path: Path, fake_data: dict, no_network: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = _write(tmp_path / "usr/share/datasets/fashion-mnist", fake_data, set(NAMES))
    monkeypatch.setattr(fm, "DEBIAN_DIR", installed)
    logs: list[str] = []
    fm.ensure_fashion_mnist(tmp_path / "root", log=logs.append)
    assert no_network == [(str(tmp_path / "root"), True, True)]  # tried, download=True
    assert logs == [
        "Fashion-MNIST: trying torchvision download",
        f"Fashion-MNIST: trying installed Debian package dataset-fashion-mnist ({installed})",
        f"Fashion-MNIST: verified in {fm.raw_dir(tmp_path / 'root')}",
    ]
    _assert_reads_back(tmp_path / "root", fake_data)


def test_when_every_route_fails_each_failure_is_named_with_its_fix(
    tmp_path: Path, fake_data: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no apt-get, no dpkg-deb
    with pytest.raises(DataError) as err:
        fm.ensure_fashion_mnist(tmp_path / "root")
    text = str(err.value)
    assert text.startswith("could not obtain Fashion-MNIST:\n")
    assert "- torchvision download: torchvision download failed: Error downloading" in text
    assert "Name or service not known" in text
    assert "- Debian package dataset-fashion-mnist via `apt-get download`: `apt-get` is not " \
           "installed" in text
    assert "pass it with --dir DIR (or data.fashion_mnist_dir in the config)" in text


def test_fedbench_offline_skips_torchvision(
    tmp_path: Path, fake_data: dict, no_network: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDBENCH_OFFLINE", "1")
    monkeypatch.setattr(fm, "DEBIAN_DIR", _write(tmp_path / "inst", fake_data, set(NAMES)))
    fm.ensure_fashion_mnist(tmp_path / "root")
    assert no_network == []
    assert fm.is_ready(tmp_path / "root")


# --- route 3: Debian's package, fetched with fake apt-get and dpkg-deb -------------------


@pytest.fixture
def fake_debian(tmp_path: Path, fake_data: dict, monkeypatch: pytest.MonkeyPatch):
    """``apt-get download PKG`` writes PKG_VERSION_all.deb (here a tar.gz holding the
    package's tree) into its working directory; ``dpkg-deb -x DEB DIR`` unpacks it. Each
    call is appended to calls.jsonl. ``behaviour`` switches apt-get to a failure."""
    bin_dir, tree = tmp_path / "bin", tmp_path / "deb-tree"
    bin_dir.mkdir()
    pkg_dir = _write(tree / fm.DEBIAN_DIR.relative_to("/"), fake_data, set(NAMES))
    (pkg_dir.parent.parent / "doc").mkdir()
    deb = io.BytesIO()
    with tarfile.open(fileobj=deb, mode="w:gz") as tar:
        tar.add(tree, arcname=".")
    (tmp_path / "payload.deb").write_bytes(deb.getvalue())
    calls = tmp_path / "calls.jsonl"
    behaviour = tmp_path / "apt-behaviour"
    behaviour.write_text("ok")
    log_call = (
        f"import json, os, shutil, sys, tarfile\n"
        f"open({str(calls)!r}, 'a').write(json.dumps([os.path.basename(sys.argv[0]), "
        f"*sys.argv[1:], os.getcwd()]) + '\\n')\n"
    )
    (bin_dir / "apt-get").write_text(
        f"#!{sys.executable}\n{log_call}"
        f"if open({str(behaviour)!r}).read() == 'unknown':\n"
        f"    sys.stderr.write('E: Unable to locate package ' + sys.argv[2] + '\\n')\n"
        f"    sys.exit(100)\n"
        f"assert sys.argv[1:] == ['download', 'dataset-fashion-mnist'], sys.argv\n"
        f"shutil.copy({str(tmp_path / 'payload.deb')!r}, "
        f"'dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb')\n"
    )
    (bin_dir / "dpkg-deb").write_text(
        f"#!{sys.executable}\n{log_call}"
        f"assert sys.argv[1] == '-x', sys.argv\n"
        f"tarfile.open(sys.argv[2]).extractall(sys.argv[3], filter='data')\n"
    )
    for tool in ("apt-get", "dpkg-deb"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def read_calls() -> list[list[str]]:
        if not calls.exists():
            return []
        return [json.loads(line) for line in calls.read_text().splitlines()]

    return read_calls, behaviour, scratch


def test_debian_route_downloads_unpacks_and_decompresses(
    tmp_path: Path, fake_data: dict, fake_debian, no_network: list
) -> None:
    read_calls, _behaviour, scratch = fake_debian
    logs: list[str] = []
    where = fm.ensure_fashion_mnist(tmp_path / "root", log=logs.append)
    assert "Fashion-MNIST: trying Debian package dataset-fashion-mnist via `apt-get download`" \
        in logs
    apt, dpkg = read_calls()
    assert apt[:3] == ["apt-get", "download", "dataset-fashion-mnist"]
    work = Path(apt[3])
    assert work.parent == scratch  # a temporary directory, not the data root
    assert dpkg[:2] == ["dpkg-deb", "-x"]
    assert dpkg[2] == str(work / "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb")
    assert list(scratch.iterdir()) == []  # the .deb and its tree are gone
    assert sorted(p.name for p in where.iterdir()) == sorted(NAMES)
    _assert_reads_back(tmp_path / "root", fake_data)


def test_apt_get_failure_is_named_with_the_update_fix(
    tmp_path: Path, fake_data: dict, fake_debian
) -> None:
    read_calls, behaviour, _scratch = fake_debian
    behaviour.write_text("unknown")
    with pytest.raises(DataError) as err:
        fm.ensure_fashion_mnist(tmp_path / "root", sources=("debian",))
    text = str(err.value)
    assert "`apt-get download dataset-fashion-mnist` failed (exit 100)" in text
    assert "E: Unable to locate package dataset-fashion-mnist" in text
    assert "`apt-get update`" in text
    assert [c[0] for c in read_calls()] == ["apt-get"]  # dpkg-deb never ran
    assert not fm.is_ready(tmp_path / "root")


# --- verification ---------------------------------------------------------------------------


def test_md5_mismatch_names_the_file_both_md5s_and_the_fix(
    tmp_path: Path, fake_data: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _write(tmp_path / "mine", fake_data)
    damaged = bytearray((src / NAMES[0]).read_bytes())
    damaged[200] ^= 0xFF
    (src / NAMES[0]).write_bytes(bytes(damaged))
    with pytest.raises(DataError) as err:
        fm.ensure_fashion_mnist(tmp_path / "root", user_dir=src, sources=("directory",))
    text = str(err.value)
    path = fm.raw_dir(tmp_path / "root") / NAMES[0]
    assert f"Fashion-MNIST file {path} is corrupted or not the canonical file" in text
    assert f"md5 {_md5(bytes(damaged))}, expected {fm.IDX_MD5[NAMES[0]]}" in text
    assert f"Delete it and run `fedbench data fashion-mnist --root {tmp_path / 'root'}`" in text


def test_reading_damaged_files_fails_naming_them(tmp_path: Path, fake_data: dict) -> None:
    raw = _write(fm.raw_dir(tmp_path), fake_data)
    (raw / NAMES[3]).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    with pytest.raises(DataError, match=NAMES[3]):
        fm.read_fashion_mnist(tmp_path)
    (raw / NAMES[3]).unlink()
    with pytest.raises(DataError, match=f"missing Fashion-MNIST file {raw / NAMES[3]}"):
        fm.read_fashion_mnist(tmp_path)


def test_a_damaged_gzip_is_a_named_failure(tmp_path: Path, fake_data: dict) -> None:
    src = _write(tmp_path / "mine", fake_data, set(NAMES))
    whole = (src / f"{NAMES[0]}.gz").read_bytes()
    flipped = bytearray(whole)
    flipped[len(whole) // 2] ^= 0xFF
    for damage in (whole[: len(whole) // 2], bytes(flipped), b"not gzip at all"):
        (src / f"{NAMES[0]}.gz").write_bytes(damage)  # cut short, corrupted, not gzip
        with pytest.raises(DataError, match=f"{NAMES[0]}.gz is not a readable gzip file"):
            fm.ensure_fashion_mnist(tmp_path / "root", user_dir=src, sources=("directory",))


# --- once verified, nothing is fetched or re-hashed -----------------------------------------


def test_verified_files_are_kept_and_no_route_is_tried(
    tmp_path: Path, fake_data: dict, fake_debian, no_network: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_calls, _behaviour, _scratch = fake_debian
    root = tmp_path / "root"
    fm.ensure_fashion_mnist(root)
    assert len(read_calls()) == 2 and len(no_network) == 1
    before = {n: os.stat(fm.raw_dir(root) / n).st_mtime_ns for n in NAMES}
    logs: list[str] = []
    assert fm.ensure_fashion_mnist(root, log=logs.append) == fm.raw_dir(root)
    assert logs == [] and len(read_calls()) == 2 and len(no_network) == 1
    assert {n: os.stat(fm.raw_dir(root) / n).st_mtime_ns for n in NAMES} == before


def test_reading_hashes_the_files_once(
    tmp_path: Path, fake_data: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(fm.raw_dir(tmp_path), fake_data)
    hashed: list[str] = []
    real = idx.md5_of
    monkeypatch.setattr(idx, "md5_of", lambda p: hashed.append(p.name) or real(p))
    _assert_reads_back(tmp_path, fake_data)
    assert sorted(hashed) == sorted(NAMES)
    _assert_reads_back(tmp_path, fake_data)
    monkeypatch.setattr(idx, "_VERIFIED", set())  # a new process: the stamp remembers
    _assert_reads_back(tmp_path, fake_data)
    assert sorted(hashed) == sorted(NAMES)
    assert (tmp_path / "partitions" / "fashion-mnist-verified.json").is_file()
    raw = fm.raw_dir(tmp_path)
    stat = os.stat(raw / NAMES[1])
    os.utime(raw / NAMES[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched: rechecked
    _assert_reads_back(tmp_path, fake_data)
    assert len(hashed) == 8


# --- the command and the config ----------------------------------------------------------------


def test_command_fetches_from_dir_and_prints_the_directory(
    tmp_path: Path, fake_data: dict, capsys: pytest.CaptureFixture
) -> None:
    src = _write(tmp_path / "mine", fake_data, set(NAMES))
    root = tmp_path / "root"
    assert cli.main(["data", "fashion-mnist", "--root", str(root), "--dir", str(src)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(fm.raw_dir(root))
    assert "Fashion-MNIST: verified in" in err
    assert fm.is_ready(root)


def test_command_with_a_bad_dir_exits_2_without_traceback(
    tmp_path: Path, no_network: list, capsys: pytest.CaptureFixture
) -> None:
    code = cli.main(["data", "fashion-mnist", "--root", str(tmp_path), "--dir",
                     str(tmp_path / "nowhere")])
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("fedbench: error: --dir / data.fashion_mnist_dir ")
    assert "Traceback" not in err and no_network == []


def test_config_key_is_accepted_and_absent_from_dumps_when_unset() -> None:
    # unset, it is not dumped: the digests of every committed run stay what they were
    assert DataConfig().model_dump() == {"root": "resources", "mnist_dir": None}
    assert DataConfig(fashion_mnist_dir="/data/fm").model_dump()["fashion_mnist_dir"] == "/data/fm"

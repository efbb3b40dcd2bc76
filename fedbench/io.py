"""The one way fedbench writes a file: nothing partial ever looks complete.

Every file is written under a temporary name in the same directory, flushed to
disk (fsync), then moved into place with ``os.replace``, which is atomic on
POSIX: an interrupted or crashed writer leaves the old file, no file, or the
new file, never half of one. The temporary name is unique per process and host
(``tempfile.mkstemp``), so concurrent writers of the same file on a shared file
system never write into each other's temporary file, and it is removed on every
failure, including KeyboardInterrupt (and SIGTERM, which ``fedbench.cli`` turns into an
exception). An ``OSError`` (a full disk, a read-only file system) names the file it was
writing, so that the command line can say which path and why.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object],
                 suffix: str = ".tmp") -> None:
    """Create ``path`` with what ``write`` writes into the open binary file it is given.

    ``suffix`` ends the temporary name; writers that append their own extension (numpy's
    ``savez`` adds ``.npz`` to a name without it) are given a file object, so nothing is
    appended here.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    except OSError as exc:  # named by the file it was to become, not the temporary name
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    tmp = Path(name)
    try:
        # mkstemp creates the file 0600: give it the mode any new file gets (0666 less the
        # umask), so that results on a shared file system are readable as before
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:  # interrupted or failed: leave no stray temporary file
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # e.g. ENOSPC from write()
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())

"""One grid cell, end to end: data ready, apps built, backend chosen, results written.

The output directory is the cell's own: a run holds a lock on it (``OUT/.lock``, with the
writer's pid) for as long as it runs, so a second ``fedbench run`` on the same ``--out``
is refused instead of racing it, and a directory that holds another cell's run or a report
is refused before anything is written (``check_own_directory``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from fedbench.config import RunConfig, shown
from fedbench.data import fashion_mnist, mnist
from fedbench.errors import ConfigError, DataError
from fedbench.protocols import get_protocol


def quiet_flower(level: int = logging.ERROR) -> None:
    """Flower logs every round at INFO; fedbench prints its own progress instead."""
    logging.getLogger("flwr").setLevel(level)


def check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise ConfigError(f"output directory {out} is not writable")


LOCK_FILE = ".lock"
# what a report directory holds (fedbench aggregate / targets / report), and the workflow's
# grid directory (results/<name>/): never a cell's --out
NOT_A_CELL = ("summary.csv", "report.pdf", "provenance.json", "targets.csv",
              "targets_summary.csv", "run_config.yaml")
# what names a cell: the workflow's path (results/<name>/[<protocol>/][<setting>/]
# <algorithm>-mu<mu>-sf<stragglers>/seed<seed>); any other setting (rounds, clients, weight
# decay, runtime) is the same cell run again, which replaces it, as the workflow does
IDENTITY = ("name", "protocol", "training.model", "training.local_epochs",
            "training.batch_size", "training.lr", "algorithm", "mu", "params", "stragglers",
            "seed")


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` (``flock``, released when the process ends, however it ends) while
    the cell runs; a second writer gets ConfigError naming the first one's pid."""
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise ConfigError(
                f"--out {out}: another fedbench run (pid {holder}) is writing there; wait for "
                "it to end, or give this run another --out") from None
        try:  # who holds it, for the message of a second writer; the lock works without it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        except OSError:  # a full disk: the run reports it where its results fail to fit
            pass
        yield
    finally:
        os.close(fd)


def _identity(config: Any) -> dict[str, Any]:
    """The keys of ``IDENTITY`` in a run.json's config (None where absent)."""
    found: dict[str, Any] = {}
    for dotted in IDENTITY:
        node = config
        for key in dotted.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is None and dotted in ("training.batch_size", "params"):
            node = 0 if dotted == "training.batch_size" else {}  # B = ∞; runs without params
        found[dotted] = node
    return found


def check_own_directory(out: Path, cfg: RunConfig) -> None:
    """``out`` holds nothing but this cell's own files (of any earlier run of it): no report,
    no grid directory, no other cell's run.json, no rounds.csv that is not a cell's."""
    for name in NOT_A_CELL:
        if (out / name).exists():
            raise ConfigError(
                f"--out {out} holds {name}: it is a report or a grid's directory, not a cell's; "
                "give the run a directory of its own")
    run_json, rounds_csv = out / "run.json", out / "rounds.csv"
    if run_json.exists():
        try:
            theirs = _identity(json.loads(run_json.read_text()).get("config"))
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"--out {out} holds a run.json fedbench cannot read ({type(exc).__name__}); "
                f"delete {run_json} if it is this cell's, or give the run another --out"
            ) from None
        mine = _identity(cfg.model_dump())
        differ = [k for k in IDENTITY if theirs[k] != mine[k]]
        if differ:
            there = ", ".join(f"{k}={shown(theirs[k])}" for k in differ)
            here = ", ".join(f"{k}={shown(mine[k])}" for k in differ)
            raise ConfigError(
                f"--out {out} holds the run of another cell ({there}; this run: {here}); give "
                f"the run another --out, or delete {out} to replace that run")
    elif rounds_csv.exists():
        with rounds_csv.open("rb") as handle:
            header = handle.readline()
        if not header.startswith(b"round,"):
            raise ConfigError(f"--out {out} holds a rounds.csv that is not a cell's (an "
                              "aggregated table?); give the run a directory of its own")


def run_cell(
    cfg: RunConfig, out: Path, quiet: bool = False, fail_prob: float = 0.0
) -> dict[str, Any]:
    """Run ``cfg`` on its backend and return the run.json payload."""
    from fedbench.apps.client_app import app as client_app
    from fedbench.apps.server_app import make_server_app

    if cfg.runtime.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "runtime.device: cuda requested (got 'cuda') but no CUDA device is "
            "available; allowed here: cpu"
        )
    check_writable(out)
    check_own_directory(out, cfg)  # before the lock file: a refused --out is left as it was
    with output_lock(out):  # held until the cell's files are written
        check_own_directory(out, cfg)  # again, now that no other run can change it
        torch.set_num_threads(cfg.runtime.threads)
        quiet_flower()
        ensure_data(cfg, quiet)
        extra = {"backend": cfg.runtime.backend}
        server_app = make_server_app(cfg, out, quiet=quiet, fail_prob=fail_prob, extra=extra)
        if cfg.runtime.backend == "inprocess":
            from fedbench.apps.backends.inprocess import run_inprocess

            run_inprocess(server_app, client_app, cfg.federation.num_clients)
        else:
            from fedbench.apps.backends.ray import run_ray

            run_ray(server_app, client_app, cfg.federation.num_clients, cfg.runtime.threads)
        payload: dict[str, Any] = json.loads((out / "run.json").read_text())
    return payload


def ensure_data(cfg: RunConfig, quiet: bool = False) -> None:
    """The protocol's images present and verified (Fashion-MNIST for a protocol that reads
    it, else MNIST): by the remembered MD5 check when the files are unchanged
    (``verify_once``), else obtained and checked by the dataset's ``ensure_*``.

    Files that are there but fail their MD5 are an error naming the file (never silently
    replaced by a download): only a root without the files, or an explicit user directory
    (``data.mnist_dir``, ``data.fashion_mnist_dir``), makes a run fetch or copy the data."""
    log = (lambda _m: None) if quiet else _stderr
    if get_protocol(cfg.protocol).data == "fashion-mnist-train":
        dataset, user_dir = fashion_mnist, cfg.data.fashion_mnist_dir
        verify, fetch = fashion_mnist.DATASET.verify_once, fashion_mnist.ensure_fashion_mnist
    else:
        dataset, user_dir = mnist, cfg.data.mnist_dir
        verify, fetch = mnist.verify_once, mnist.ensure_mnist
    try:
        verify(cfg.data.root)
        return
    except DataError:
        raw = dataset.raw_dir(cfg.data.root)
        if user_dir is None and any((raw / name).exists() for name in dataset.IDX_MD5):
            raise
    fetch(cfg.data.root, user_dir, log=log)
    verify(cfg.data.root)


def _stderr(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)

"""One grid cell, end to end: data ready, apps built, backend chosen, results written."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from fedbench.config import RunConfig
from fedbench.data import mnist
from fedbench.errors import ConfigError, DataError


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
    torch.set_num_threads(cfg.runtime.threads)
    quiet_flower()
    ensure_data(cfg, quiet)
    payload: dict[str, Any] = {}
    extra = {"backend": cfg.runtime.backend}
    server_app = make_server_app(cfg, out, quiet=quiet, fail_prob=fail_prob, extra=extra)
    if cfg.runtime.backend == "inprocess":
        from fedbench.apps.backends.inprocess import run_inprocess

        run_inprocess(server_app, client_app, cfg.federation.num_clients)
    else:
        from fedbench.apps.backends.ray import run_ray

        run_ray(server_app, client_app, cfg.federation.num_clients, cfg.runtime.threads)
    import json

    payload = json.loads((out / "run.json").read_text())
    return payload


def ensure_data(cfg: RunConfig, quiet: bool = False) -> None:
    """MNIST present and verified: by its remembered MD5 check when the files are unchanged
    (``mnist.verify_once``), else obtained and checked by ``mnist.ensure_mnist``.

    Files that are there but fail their MD5 are an error naming the file (never silently
    replaced by a download): only a root without MNIST, or an explicit ``data.mnist_dir``,
    makes a run fetch or copy the data."""
    try:
        mnist.verify_once(cfg.data.root)
        return
    except DataError:
        raw = mnist.raw_dir(cfg.data.root)
        if cfg.data.mnist_dir is None and any((raw / name).exists() for name in mnist.IDX_MD5):
            raise
    mnist.ensure_mnist(
        cfg.data.root, cfg.data.mnist_dir, log=(lambda _m: None) if quiet else _stderr
    )
    mnist.verify_once(cfg.data.root)


def _stderr(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)

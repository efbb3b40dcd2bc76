"""Flower's own Simulation Engine (Ray) for the same apps.

Kept for side-by-side comparison with the in-process Grid and for users who
want Flower's standard engine. ``run_simulation`` returns nothing, so results
reach disk through the ServerApp itself.

By default the engine starts a private, single-machine Ray for the cell (with
``runtime.threads`` CPUs) and stops it at the end. With Ray's standard
``RAY_ADDRESS`` environment variable set to a running cluster (``HOST:PORT`` of its
head, or ``auto`` for the one started on this machine), the cell attaches to that
cluster instead: its ClientApp actors go wherever the cluster has CPUs, one CPU each,
and only the driver's connection ends with the cell; the cluster keeps running.
Every node needs the same environment (fedbench importable) and the data root at the
same path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flwr.clientapp import ClientApp
from flwr.serverapp import ServerApp

ADDRESS_VARIABLE = "RAY_ADDRESS"  # Ray's own: ray.init() and the ray CLI read it too
# values of RAY_ADDRESS that mean "start a new local Ray" to ray.init as well
_LOCAL = ("", "local")


def cluster_address(environ: Mapping[str, str] | None = None) -> str | None:
    """The Ray cluster a cell attaches to (``RAY_ADDRESS``), or None for a private Ray."""
    value = (os.environ if environ is None else environ).get(ADDRESS_VARIABLE, "").strip()
    return None if value in _LOCAL else value


def backend_config(threads: int = 1, address: str | None = None) -> dict[str, Any]:
    """Flower's ``backend_config`` for ``run_simulation``: every ClientApp actor takes one CPU.

    A private Ray gets ``threads`` CPUs. Attached to a cluster (``address``), Ray refuses
    ``num_cpus`` (the nodes declared theirs when they started), so it is left out and the
    address is passed on instead.
    """
    init_args: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                                 "log_to_driver": False}
    if address is None:
        init_args["num_cpus"] = threads
    else:
        init_args["address"] = address
    return {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": init_args}


def run_ray(server_app: ServerApp, client_app: ClientApp, num_nodes: int, threads: int = 1) -> None:
    from flwr.simulation import run_simulation

    run_simulation(server_app=server_app, client_app=client_app, num_supernodes=num_nodes,
                   backend_config=backend_config(threads, cluster_address()))

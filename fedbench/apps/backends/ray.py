"""Flower's own Simulation Engine (Ray) for the same apps.

Kept for side-by-side comparison with the in-process Grid and for users who
want Flower's standard engine. ``run_simulation`` returns nothing, so results
reach disk through the ServerApp itself.
"""

from __future__ import annotations

import logging

from flwr.clientapp import ClientApp
from flwr.serverapp import ServerApp


def run_ray(server_app: ServerApp, client_app: ClientApp, num_nodes: int, threads: int = 1) -> None:
    from flwr.simulation import run_simulation

    backend_config = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {"num_cpus": threads, "include_dashboard": False,
                      "logging_level": logging.ERROR, "log_to_driver": False},
    }
    run_simulation(server_app=server_app, client_app=client_app, num_supernodes=num_nodes,
                   backend_config=backend_config)

"""The federation a cell's apps use, loaded once per process.

A ClientApp handles many messages and the ServerApp evaluates every round: the data is
read, split and preprocessed once per (data root, protocol, clients, seed, device).
"""

from __future__ import annotations

import functools

from fedbench.data.federated import FederatedData, load_federated
from fedbench.protocols import get_protocol


@functools.lru_cache(maxsize=4)
def cached_federated(root: str, protocol_name: str, num_clients: int, seed: int,
                     device: str = "cpu", partition: str = "") -> FederatedData:
    return load_federated(root, get_protocol(protocol_name), num_clients, seed, device,
                          partition)

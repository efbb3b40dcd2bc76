"""The federated view of MNIST: preprocessed tensors plus each client's indices.

Loaded once per process and kept as dense tensors: a client's data is a pair of
tensor slices materialised on first use, so a round costs no DataLoader and no
per-sample Python. Partitions are cached on disk per (protocol, clients, seed).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fedbench import mnist, partition
from fedbench.protocols import Protocol, get_protocol


@dataclass
class FederatedData:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    client_train: list[np.ndarray]
    _slices: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)

    @property
    def num_clients(self) -> int:
        return len(self.client_train)

    def client(self, cid: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Client ``cid``'s training tensors (contiguous copies, made once)."""
        if cid not in self._slices:
            idx = torch.from_numpy(self.client_train[cid]).to(self.train_x.device)
            self._slices[cid] = (self.train_x.index_select(0, idx), self.train_y.index_select(0, idx))
        return self._slices[cid]


def read_mnist(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The verified IDX files as uint8 images and int64 labels, read by torchvision."""
    from torchvision.datasets import MNIST

    mnist.verify_idx(mnist.raw_dir(root))
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    return (train.data.numpy(), train.targets.numpy().astype(np.int64),
            test.data.numpy(), test.targets.numpy().astype(np.int64))


def partition_path(root: str | Path, protocol: str, num_clients: int, seed: int) -> Path:
    return Path(root) / "partitions" / f"{protocol}-n{num_clients}-s{seed}.npz"


def client_partition(root: str | Path, protocol: Protocol, labels: np.ndarray,
                     num_clients: int, seed: int) -> partition.Partition:
    """Load the cached partition, or build and cache it (atomic: safe under concurrent jobs)."""
    path = partition_path(root, protocol.name, num_clients, seed)
    if path.is_file():
        parts = partition.load(path)
        if len(parts) == num_clients:
            return parts
    parts = protocol.split(labels, num_clients, seed)
    partition.save(path, parts)
    return parts


def load_federated(root: str | Path, protocol_name: str, num_clients: int, seed: int,
                   device: str = "cpu") -> FederatedData:
    protocol = get_protocol(protocol_name)
    tr_x, tr_y, te_x, te_y = read_mnist(root)
    parts = client_partition(root, protocol, tr_y, num_clients, seed)
    train_idx = [partition.train_val_split(p, seed, cid, protocol.val_fraction)[0]
                 for cid, p in enumerate(parts)]
    dev = torch.device(device)
    return FederatedData(
        train_x=torch.from_numpy(protocol.preprocess(tr_x)).to(dev),
        train_y=torch.from_numpy(tr_y).to(dev),
        test_x=torch.from_numpy(protocol.preprocess(te_x)).to(dev),
        test_y=torch.from_numpy(te_y).to(dev),
        client_train=train_idx,
    )


@functools.lru_cache(maxsize=4)
def cached_federated(root: str, protocol_name: str, num_clients: int, seed: int,
                     device: str = "cpu") -> FederatedData:
    """Per-process cache: a ClientApp handles many messages; data is read once."""
    return load_federated(root, protocol_name, num_clients, seed, device)

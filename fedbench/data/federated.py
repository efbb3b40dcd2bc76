"""A protocol's federation: raw samples plus each client's indices, preprocessed on demand.

``load_federated`` is the one way from a protocol to the data its clients train on and
its server evaluates on. It reads the protocol's source (MNIST's train split, all
70,000 MNIST images, or a generated Synthetic(α, β) federation), splits it with the
protocol's partitioner (cached on disk: ``fedbench.data.cache``) and holds:

- each client's training samples, materialised as float tensors on the client's
  first use and kept, so a round costs no DataLoader, no per-sample Python and no
  preprocessing of the samples nobody sampled;
- the evaluation sets: the MNIST test set (centralized evaluation) or, for federated
  evaluation (the FedProx paper's), every client's held-out split concatenated, so
  that accuracy over them is exactly Σ correct / Σ n over the clients' test splits,
  and every client's training split (``eval_train``: the training loss over all
  devices' training data, the paper's Figure 1 metric).

Images stay uint8 until used. When the protocol's preprocessing is a per-pixel
function (as the published ones are) it is applied through a 256-entry lookup table
built by the protocol's own function, which gives the same bits at a fraction of the
cost. The protocol is passed in, not looked up: the data layer sits below the
protocols that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from fedbench.data import mnist, partitions, synthetic
from fedbench.data.cache import cached_partition
from fedbench.data.partitioners import Partition, train_val_split
from fedbench.seeding import torch_seed_for

if TYPE_CHECKING:
    from fedbench.protocols.base import Protocol


@dataclass
class FederatedData:
    train_images: np.ndarray  # uint8 (N, 28, 28), as read
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    client_train: Sequence[np.ndarray]  # TrainIndices: computed per client on first use
    preprocess: object = field(repr=False, default=None)  # uint8 rows -> float32 (n, 784)
    device: str = "cpu"
    # federated evaluation: every client's training split, stacked
    eval_train: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)
    # noise-based feature imbalance: the std of the Gaussian noise on each client's features
    # (None: none), drawn once per (seed, client) after preprocessing
    client_noise: tuple[float, ...] | None = None
    seed: int = 0
    _slices: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)

    @property
    def num_clients(self) -> int:
        return len(self.client_train)

    @property
    def train_x(self) -> torch.Tensor:
        """The whole preprocessed training set (built on request; training never needs it)."""
        return torch.from_numpy(self.preprocess(self.train_images)).to(self.device)

    def client(self, cid: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Client ``cid``'s training tensors (contiguous, made once per process)."""
        if cid not in self._slices:
            idx = self.client_train[cid]
            x = torch.from_numpy(self.preprocess(self.train_images[idx])).to(self.device)
            y = self.train_y.index_select(0, torch.from_numpy(idx).to(self.train_y.device))
            if self.client_noise is not None:
                x = with_noise(x, self.client_noise[cid], self.seed, "noise", cid)
            self._slices[cid] = (x, y)
        return self._slices[cid]


def with_noise(x: torch.Tensor, std: float, seed: int, stream: str, cid: int) -> torch.Tensor:
    """``x`` plus N(0, std²) noise drawn from (seed, stream, client): the same every run."""
    if std == 0:
        return x
    gen = torch.Generator().manual_seed(torch_seed_for(seed, stream, cid))
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return x + noise.to(x.device) * std


# --- preprocessing -------------------------------------------------------------------------------


def pixel_lookup(protocol: Protocol) -> np.ndarray | None:
    """The protocol's preprocessing as a 256-entry table, or None if it is not per-pixel.

    The table is the protocol's own function applied to every byte value, and it
    is used only after a probe shows the output at each pixel depends on that
    pixel's byte alone (same value anywhere in any image -> same float), so
    ``table[images]`` reproduces ``protocol.preprocess(images)`` bit for bit.
    """
    values = np.arange(256, dtype=np.uint8)
    rng = np.random.default_rng(0)
    probe = np.concatenate(
        [
            np.resize(values, (4, 28, 28)),  # every value, at shifting positions
            rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
            np.zeros((1, 28, 28), np.uint8),
            np.full((1, 28, 28), 255, np.uint8),
        ]
    )
    try:
        out = np.asarray(protocol.preprocess(probe))
    except Exception:  # an unusual preprocess: fall back to calling it on each client's rows
        return None
    if out.shape != (probe.shape[0], 784) or out.dtype != np.float32:
        return None
    flat = probe.reshape(probe.shape[0], -1)
    table = np.zeros(256, np.float32)
    table[flat[:4].ravel()] = out[:4].ravel()
    if not np.array_equal(table[flat].view(np.uint32), out.view(np.uint32)):
        return None
    return table


def make_preprocess(protocol: Protocol):
    """uint8 images (n, 28, 28) -> float32 (n, 784), identical to ``protocol.preprocess``."""
    table = pixel_lookup(protocol)
    if table is None:
        return lambda images: np.ascontiguousarray(protocol.preprocess(images), dtype=np.float32)

    def by_table(images: np.ndarray) -> np.ndarray:
        return table[images.reshape(images.shape[0], -1)]

    return by_table


class TrainIndices(Sequence):
    """Each client's training indices (partition minus held-out share), made on first use."""

    def __init__(self, parts: Partition, seed: int, val_fraction: float) -> None:
        self._parts, self._seed, self._val_fraction = parts, seed, val_fraction
        self._done: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._parts)

    def __getitem__(self, cid):  # type: ignore[override]
        if isinstance(cid, slice):
            return [self[i] for i in range(*cid.indices(len(self)))]
        cid = range(len(self))[cid]  # bounds check, negative indices
        if cid not in self._done:
            self._done[cid] = train_val_split(
                self._parts[cid], self._seed, cid, self._val_fraction
            )[0]
        return self._done[cid]


# --- the federation of a protocol ----------------------------------------------------------------


def _identity(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows, dtype=np.float32)


def _with_held_out(pool: np.ndarray, labels: np.ndarray, parts: Partition, preprocess,
                   protocol: Protocol, seed: int, device: str) -> FederatedData:
    """A ``FederatedData`` over ``pool`` (raw rows) with federated evaluation sets."""
    pairs = [train_val_split(p, seed, cid, protocol.val_fraction) for cid, p in enumerate(parts)]
    train_idx, test_idx = [tr for tr, _ in pairs], [te for _, te in pairs]
    dev = torch.device(device)
    y_all = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)).to(dev)

    def stacked(indices: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        flat = np.concatenate(indices) if len(indices) else np.zeros(0, np.int64)
        x = torch.from_numpy(preprocess(pool[flat])).to(dev)
        return x, y_all.index_select(0, torch.from_numpy(flat).to(dev))

    test_x, test_y = stacked(test_idx)
    return FederatedData(
        train_images=pool,
        train_y=y_all,
        test_x=test_x,
        test_y=test_y,
        client_train=train_idx,
        preprocess=preprocess,
        device=device,
        eval_train=stacked(train_idx),
    )


def _split(protocol: Protocol, partition: str):
    """(cache name, split) of the protocol's own split, or of the partition a label names."""
    if not partition:
        return protocol.name, protocol.split
    found, params = partitions.parse(partition)
    return (f"{protocol.name}-{partition}",
            lambda labels, clients, seed: found(labels, clients, params, seed))


def _noise(partition: str, num_clients: int) -> tuple[float, ...] | None:
    """Each client's feature-noise std under the partition, or None without noise."""
    if not partition:
        return None
    found, params = partitions.parse(partition)
    if not found.adds_noise:
        return None
    typed = found.params(params)
    return tuple(found.noise_std(typed, cid, num_clients) for cid in range(num_clients))


def _read_pool(data: str, root: str | Path):
    """(train images, train labels, test images, test labels) of an image source."""
    if data == "fashion-mnist-train":
        from fedbench.data import fashion_mnist  # only the protocols that use it need it

        return fashion_mnist.read_fashion_mnist(root)
    return mnist.read_mnist(root)


def _train_split(root: str | Path, protocol: Protocol, num_clients: int, seed: int,
                 device: str, partition: str = "") -> FederatedData:
    """A dataset's training split (MNIST's or Fashion-MNIST's 60,000 images) over the
    clients; its 10,000 test images evaluate. Under feature noise, the test set is every
    client's noisy copy of them (NIID-Bench's evaluation for that partition)."""
    tr_x, tr_y, te_x, te_y = _read_pool(protocol.data, root)
    name, split = _split(protocol, partition)
    parts = cached_partition(root, name, split, tr_y, num_clients, seed)
    dev = torch.device(device)
    preprocess = make_preprocess(protocol)
    noise = _noise(partition, num_clients)
    test_x = torch.from_numpy(preprocess(te_x))
    test_y = torch.from_numpy(te_y)
    if noise is not None:
        test_x = torch.cat([with_noise(test_x, std, seed, "noise-test", cid)
                            for cid, std in enumerate(noise)])
        test_y = test_y.repeat(num_clients)
    return FederatedData(
        train_images=tr_x,
        train_y=torch.from_numpy(tr_y).to(dev),
        test_x=test_x.to(dev),
        test_y=test_y.to(dev),
        client_train=TrainIndices(parts, seed, protocol.val_fraction),
        preprocess=preprocess,
        device=device,
        client_noise=noise,
        seed=seed,
    )


def _mnist_all(root: str | Path, protocol: Protocol, num_clients: int, seed: int,
               device: str, partition: str = "") -> FederatedData:
    """All 70,000 MNIST images (train then test), the protocol's split and preprocessing."""
    tr_x, tr_y, te_x, te_y = mnist.read_mnist(root)
    images = np.concatenate([tr_x, te_x])
    labels = np.concatenate([tr_y, te_y])
    name, split = _split(protocol, partition)
    parts = cached_partition(root, name, split, labels, num_clients, seed)
    return _with_held_out(images, labels, parts, protocol.preprocessor(images), protocol, seed,
                          device)


def _synthetic(root: str | Path, protocol: Protocol, num_clients: int, seed: int,
               device: str, partition: str = "") -> FederatedData:
    """Synthetic(α, β) generated for ``seed`` (nothing read from disk)."""
    assert protocol.synthetic is not None
    alpha, beta, iid = protocol.synthetic
    data = synthetic.generate(alpha, beta, iid, num_clients, seed)
    return _with_held_out(data.x, data.y, data.parts, _identity, protocol, seed, device)


_SOURCES = {"mnist-train": _train_split, "fashion-mnist-train": _train_split,
            "mnist-all": _mnist_all, "synthetic": _synthetic}


def load_federated(root: str | Path, protocol: Protocol, num_clients: int, seed: int,
                   device: str = "cpu", partition: str = "") -> FederatedData:
    """The federation of ``protocol`` for ``seed``, on ``device``; ``partition`` (a label of
    ``fedbench.data.partitions``) replaces the protocol's own split."""
    return _SOURCES[protocol.data](root, protocol, num_clients, seed, device, partition)

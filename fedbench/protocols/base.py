"""What a protocol is: the rules a paper fixed, and what the paper published.

A protocol fixes what a paper fixed: which data (the MNIST train split, all 70k
MNIST images, or a generated Synthetic(α, β) federation), how features are
preprocessed, how the data is split over clients, how stragglers are drawn and
how the model is evaluated. Code elsewhere asks the protocol; it never branches
on its name.

Each protocol also carries its ``docs``: title, sources, known differences and
the published values the report sets beside fedbench's numbers. Everything a
report reads, and nothing a cell computes, is written inside the ``docs=``
argument of the protocol's constructor, or in a module-level name that contains
``docs`` (``_docs(...)``, ``DOCS_CLAIM``). The simulate rule's code digest leaves
both out (``fedbench.digest``), so editing a sentence of report prose does not
rerun a grid, while any change to the rules does.

Evaluation modes:

- ``centralized``: the global model on the 10,000 MNIST test images (Flower's
  baseline, McMahan et al.);
- ``federated``: test accuracy = Σ correct / Σ n over every client's held-out
  split, and the training loss over every client's training data (the FedProx
  paper's metrics). Both are computed server-side in one batched pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fedbench.data.partitioners import Partition

Preprocess = Callable[[np.ndarray], np.ndarray]  # uint8 (n, 28, 28) -> float32 (n, 784)
READ_OFF = "≈, read off a figure"


@dataclass(frozen=True)
class PublishedValue:
    """One published number (or range) for one cell of a protocol's grid."""

    algorithm: str
    mu: float
    stragglers: float
    metric: str
    low: float
    high: float
    round: int
    source: str
    note: str = READ_OFF
    # the partition's label (fedbench.data.partitions) for a table over partitions; "" if none
    partition: str = ""
    # a table's "mean ± spread" (a standard deviation over runs); None: a figure read off
    spread: float | None = None

    def text(self, digits: int = 2) -> str:
        """"≈0.86" or "≈0.78–0.85": the approximate sign is part of a value read off a
        figure; a table's value is "0.9909 ± 0.0005"."""
        if self.spread is not None:
            return f"{self.low:.{digits}f} ± {self.spread:.{digits}f}"
        if self.low == self.high:
            return f"≈{self.low:.{digits}f}"
        return f"≈{self.low:.{digits}f}–{self.high:.{digits}f}"


@dataclass(frozen=True)
class PublishedClaim:
    """A published aggregate statement, e.g. an average improvement over several datasets.

    ``protocols`` are the protocols of fedbench on which it can be measured (a subset of the
    paper's datasets); the claim is the same object in each of their docs.
    """

    protocols: tuple[str, ...]
    stragglers: float
    metric: str
    value: float
    source: str
    text: str


@dataclass(frozen=True)
class PublishedRounds:
    """Rounds to reach the target accuracy for one (model, E, B) setting of a protocol."""

    model: str
    local_epochs: int
    batch_size: int  # 0: B = ∞ (the full local batch), as everywhere in fedbench
    rounds: int
    source: str


@dataclass(frozen=True)
class ProtocolDocs:
    """What the report says about a protocol; nothing here changes a number of a cell."""

    title: str  # e.g. "Flower Baselines, FedProx on MNIST"
    source: str  # the publication(s), and the PROTOCOLS.md section that transcribes them
    description: str  # one line for the report: data, split, evaluation
    # the split's name in tables and panel titles ("IID", "non-IID"); empty: the protocol name
    short_title: str = ""
    known_differences: tuple[str, ...] = ()  # paragraphs of the report's "Known differences"
    published: tuple[PublishedValue, ...] = ()  # per-cell values (a figure read off)
    claims: tuple[PublishedClaim, ...] = ()
    rounds_to_target: tuple[PublishedRounds, ...] = ()  # the paper's table
    reference_rounds: tuple[PublishedRounds, ...] = ()  # a second source's replication
    reference_rounds_source: str = ""
    # a second source's per-cell values (a replication's table), beside ``published``
    reference: tuple[PublishedValue, ...] = ()
    reference_source: str = ""
    # what the published accuracy is: "final" (the last round) or "best" (the best round)
    published_metric: str = "final"

    def published_value(self, algorithm: str, mu: float, stragglers: float,
                        metric: str = "test_accuracy") -> PublishedValue | None:
        """The published value for one cell, or None when the source gives none."""
        for value in self.published:
            if (value.algorithm == algorithm and value.metric == metric
                    and abs(value.mu - mu) < 1e-9 and abs(value.stragglers - stragglers) < 1e-9):
                return value
        return None


def published_rounds(table: tuple[PublishedRounds, ...], model: str, local_epochs: int,
                     batch_size: int) -> int | None:
    """Published rounds to target for one setting, or None when the table gives none."""
    for row in table:
        if (row.model, row.local_epochs, row.batch_size) == (model, local_epochs, batch_size):
            return row.rounds
    return None


@dataclass(frozen=True)
class Protocol:
    name: str
    # where the samples come from: MNIST's 60k train split, all 70k MNIST images, or generated
    data: Literal["mnist-train", "fashion-mnist-train", "mnist-all", "synthetic"]
    input_dim: int
    # a fixed per-image function, or None when the preprocessing is fitted on the whole pool
    preprocess: Preprocess | None
    # (whole pool of uint8 images) -> the preprocessing to apply; None: ``preprocess`` as is
    fit_preprocess: Callable[[np.ndarray], Preprocess] | None
    split: Callable[[np.ndarray, int, int], Partition] | None  # (labels, clients, seed)
    val_fraction: float  # per-client hold-out (the federated test split, or unused)
    straggler_rule: Literal["bernoulli", "fixed-count"]
    evaluation: Literal["centralized", "federated"]
    docs: ProtocolDocs
    # Synthetic(α, β): (alpha, beta, iid); None for MNIST protocols
    synthetic: tuple[float, float, bool] | None = None
    # the split's constraint on federation.num_clients (the power law: one group per label),
    # checked with the config, before any job starts
    clients_multiple_of: int = 1
    # the most clients the split can take without an empty client, a duplicated sample or a
    # sample of another label (derived from the data's size and per-label counts), and why;
    # also checked with the config, before any job starts
    max_clients: int = 1_000_000
    max_clients_reason: str = "a bound on memory"
    # published target test accuracy per model (``federation.stop_at_target`` ends a run there)
    targets: Mapping[str, float] = field(default_factory=dict)
    num_classes: int = 10

    @property
    def pool_size(self) -> int:
        """How many samples the split divides (the training split, or all 70,000 images)."""
        return {"mnist-train": 60_000, "fashion-mnist-train": 60_000,
                "mnist-all": 70_000}.get(self.data, 0)

    @property
    def partitionable(self) -> bool:
        """Whether ``partition`` may replace the split: a labelled training split is split
        over the clients; a generated federation (Synthetic) comes with its clients."""
        return self.data in ("mnist-train", "fashion-mnist-train")

    def preprocessor(self, pool: np.ndarray) -> Preprocess:
        """The preprocessing of this protocol, fitted on ``pool`` where the protocol says so."""
        if self.fit_preprocess is not None:
            return self.fit_preprocess(pool)
        assert self.preprocess is not None
        return self.preprocess


def flower_normalise(x: np.ndarray) -> np.ndarray:
    """torchvision ``ToTensor()`` then ``Normalize((0.1307,), (0.3081,))``, as Flower's
    baselines (and most MNIST code) preprocess MNIST."""
    flat = x.reshape(x.shape[0], -1).astype(np.float32) / 255.0
    return (flat - np.float32(0.1307)) / np.float32(0.3081)

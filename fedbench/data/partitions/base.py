"""What a partitioner is: a pure function of (labels, clients, parameters, seed).

A partition depends on nothing but its arguments, so every algorithm of a grid sees the
same clients for a given seed, which is what makes comparisons between algorithms paired.
Each partitioner states its hyperparameters as a pydantic model (with their ranges: a
config that breaks them is refused before any job starts) and ``check``s what the ranges
cannot express, such as more labels per client than the data has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

Partition = list[np.ndarray]


class PartitionParameters(BaseModel):
    """A partitioner's hyperparameters; strict and complete like every config section."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class PartitionDocs:
    """How the report names a partition and where its definition comes from."""

    title: str  # e.g. "distribution-based label imbalance"
    source: str
    # the table heading for given parameters, e.g. "#C=2", "p~Dir(0.5)"
    short: Callable[[BaseModel], str]


def _no_check(params: BaseModel, num_clients: int, num_labels: int, num_samples: int) -> None:
    return None


def _no_noise(params: BaseModel, client: int, num_clients: int) -> float:
    return 0.0


@dataclass(frozen=True)
class Partitioner:
    name: str
    parameters: type[PartitionParameters]
    # (labels, num_clients, params, seed) -> one sorted int64 index array per client
    split: Callable[[np.ndarray, int, BaseModel, int], Partition]
    docs: PartitionDocs
    # (params, clients, labels, samples): raises ValueError naming the value and what is
    # allowed, for what the ranges cannot say; run with the config, before any job starts
    check: Callable[[BaseModel, int, int, int], None] = _no_check
    # the standard deviation of the Gaussian noise added to client ``client``'s features
    # (noise-based feature imbalance); 0 for a partition of the samples alone
    noise_std: Callable[[BaseModel, int, int], float] = _no_noise

    def params(self, values: dict | None = None) -> BaseModel:
        return self.parameters.model_validate(dict(values or {}), strict=False)

    def __call__(self, labels: np.ndarray, num_clients: int, values: dict | None,
                 seed: int) -> Partition:
        params = self.params(values)
        self.check(params, num_clients, int(labels.max()) + 1 if len(labels) else 0,
                   len(labels))
        return [np.sort(np.asarray(p, dtype=np.int64)) for p in
                self.split(labels, num_clients, params, seed)]

    def short(self, values: dict | None = None) -> str:
        return self.docs.short(self.params(values))

    @property
    def adds_noise(self) -> bool:
        return self.noise_std is not _no_noise

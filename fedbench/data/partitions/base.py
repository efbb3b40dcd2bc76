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
from pydantic import BaseModel, ConfigDict, Field

Partition = list[np.ndarray]


class PartitionParameters(BaseModel):
    """A partitioner's hyperparameters; strict and complete like every config section."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DirichletParameters(PartitionParameters):
    """A Dirichlet draw's concentration and the smallest client it may leave: NIID-Bench
    redraws until every client holds ``min_size`` samples."""

    beta: float = Field(0.5, gt=0, description="concentration β of Dir(β)")
    min_size: int = Field(10, ge=0, description="redraw until every client has this many")


def check_min_size(name: str):
    """The ``check`` of a partition with a ``min_size``: enough samples for every client."""

    def check(params: DirichletParameters, num_clients: int, num_labels: int,
              num_samples: int) -> None:
        if params.min_size * num_clients > num_samples:
            raise ValueError(f"partition {name}: min_size={params.min_size} samples for each "
                             f"of {num_clients} clients needs {params.min_size * num_clients} "
                             f"samples, the data has {num_samples}; allowed: "
                             f"min_size <= {num_samples // num_clients}")

    return check


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

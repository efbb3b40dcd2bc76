"""The algorithm registry: every module of this package defines ``ALGORITHM``.

Adding ``fedbench/algorithms/<name>.py`` adds the algorithm everywhere: config
validation, ``fedbench run --algorithm``, the Snakemake schema and wildcards, the
labels of the summary and the report, and the benchmarks. Nothing else in fedbench
lists algorithm names. Modules are imported on the first look-up, so that importing
the config (and ``fedbench --help``) does not import Flower.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from fedbench.registry import discover

if TYPE_CHECKING:
    from fedbench.algorithms.base import Algorithm



def _entry(module) -> list[Algorithm]:
    algorithm = getattr(module, "ALGORITHM", None)
    if algorithm is None:
        raise RuntimeError(f"{module.__name__} defines no ALGORITHM")
    return [algorithm]


@functools.cache
def registry() -> dict[str, Algorithm]:
    """Name -> algorithm, from every algorithm module, sorted by name."""
    found = discover(__name__, __path__, _entry, "algorithm")
    if sum(a.baseline for a in found.values()) != 1:
        raise RuntimeError("exactly one algorithm must be the baseline (baseline=True)")
    return found


def names() -> tuple[str, ...]:
    return tuple(registry())


def get_algorithm(name: str) -> Algorithm:
    try:
        return registry()[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; allowed: {', '.join(registry())}") from None


def baseline() -> Algorithm:
    """The algorithm every other one is paired against (FedAvg)."""
    return next(a for a in registry().values() if a.baseline)


def params_text(params: dict[str, float] | None) -> str:
    """An algorithm's hyperparameters as one cell of a table: "server_lr=0.01" ("" for none)."""
    return ", ".join(f"{k}={float(v):g}" for k, v in sorted((params or {}).items()))


def params_from_text(text: object) -> dict[str, float]:
    """``params_text``'s cell read back ("server_lr=0.01, tau=0.001" -> a dict; "", None or
    NaN, as pandas reads an empty cell, -> {})."""
    if not isinstance(text, str) or not text.strip():
        return {}
    pairs = (item.split("=", 1) for item in text.split(", "))
    return {k.strip(): float(v) for k, v in pairs}


def label(name: str, mu: float, params: dict[str, float] | None = None) -> str:
    """The legend name of (algorithm, mu, params), e.g. "FedProx μ=2" or
    "FedAdam (server_lr=0.01)"; an algorithm no longer registered keeps its name."""
    algorithm = registry().get(name)
    base = f"{name} μ={float(mu):g}" if algorithm is None else algorithm.label(mu)
    return f"{base} ({params_text(params)})" if params else base


def sort_key(name: str, mu: float) -> tuple[int, str, float]:
    """The baseline first, then by algorithm name and μ: the order of legends and tables."""
    algorithm = registry().get(name)
    return (0 if algorithm is not None and algorithm.baseline else 1, name, float(mu))

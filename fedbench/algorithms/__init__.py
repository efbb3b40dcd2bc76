"""The algorithm registry: every module of this package defines ``ALGORITHM``.

Adding ``fedbench/algorithms/<name>.py`` adds the algorithm everywhere: config
validation, ``fedbench run --algorithm``, the Snakemake schema and wildcards, the
labels of the summary and the report, and the benchmarks. Nothing else in fedbench
lists algorithm names. Modules are imported on the first look-up, so that importing
the config (and ``fedbench --help``) does not import Flower.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fedbench.algorithms.base import Algorithm

_NOT_ALGORITHMS = {"base"}


@functools.cache
def registry() -> dict[str, Algorithm]:
    """Name -> algorithm, from every algorithm module, sorted by name."""
    found: dict[str, Algorithm] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in _NOT_ALGORITHMS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        algorithm = getattr(module, "ALGORITHM", None)
        if algorithm is None:
            raise RuntimeError(f"{module.__name__} defines no ALGORITHM")
        if algorithm.name in found:
            raise RuntimeError(f"algorithm {algorithm.name!r} is defined twice")
        found[algorithm.name] = algorithm
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


def label(name: str, mu: float) -> str:
    """The legend name of (algorithm, mu); an algorithm no longer registered keeps its name."""
    algorithm = registry().get(name)
    if algorithm is None:
        return f"{name} μ={float(mu):g}"
    return algorithm.label(mu)


def sort_key(name: str, mu: float) -> tuple[int, str, float]:
    """The baseline first, then by algorithm name and μ: the order of legends and tables."""
    algorithm = registry().get(name)
    return (0 if algorithm is not None and algorithm.baseline else 1, name, float(mu))

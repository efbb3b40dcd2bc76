"""The partitioner registry: how a labelled pool of samples is split over clients.

Every module of this package defines ``PARTITIONER``; adding a module adds a partition
everywhere (config validation, ``grid.partitions``, the Snakemake wildcards, the report).
Nothing else in fedbench lists their names. A partition is named in a config as
``{name: dirichlet, params: {beta: 0.5}}`` and on disk by its label, ``dirichlet-beta0.5``,
which reads back to exactly the same partition (``parse``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from fedbench.data.partitions.base import Partitioner
from fedbench.registry import discover


@functools.cache
def registry() -> dict[str, Partitioner]:
    """Name -> partitioner, from every module of this package."""
    return discover(__name__, __path__, lambda module: (module.PARTITIONER,),
                    "partitioner")


def names() -> tuple[str, ...]:
    return tuple(registry())


def get_partitioner(name: str) -> Partitioner:
    try:
        return registry()[name]
    except KeyError:
        raise ValueError(f"unknown partition {name!r}; allowed: {', '.join(registry())}") from None


def label(name: str, params: dict[str, Any] | None = None) -> str:
    """The directory name of a partition, e.g. ``labels-k2`` or ``dirichlet-beta0.5``: every
    hyperparameter, defaults included, so that a label names one partition forever."""
    found = get_partitioner(name)
    values = found.parameters.model_validate(dict(params or {}), strict=False).model_dump()
    return name + "".join(f"-{key}{value!r}" for key, value in sorted(values.items()))


def parse(text: str) -> tuple[Partitioner, dict[str, Any]]:
    """The partitioner and parameters a label names (``label``'s inverse); ValueError if none."""
    name, *rest = text.split("-")
    found = get_partitioner(name)
    fields = found.parameters.model_fields
    values: dict[str, Any] = {}
    for part in rest:
        match = next((m for key in sorted(fields, key=len, reverse=True)
                      if (m := re.fullmatch(f"({re.escape(key)})(.+)", part))), None)
        if match is None:
            raise ValueError(f"partition label {text!r}: {part!r} is not one of {name}'s "
                             f"parameters ({', '.join(fields) or 'none'})")
        values[match.group(1)] = float(match.group(2)) if "." in match.group(2) or "e" in \
            match.group(2) else int(match.group(2))
    params = found.parameters.model_validate(values, strict=False).model_dump()
    if label(name, params) != text:
        raise ValueError(f"partition label {text!r} is not canonical (expected "
                         f"{label(name, params)!r})")
    return found, params

"""The protocol registry: every module of this package defines ``PROTOCOLS``, a tuple of
``Protocol``; adding a module adds its protocols everywhere (config validation, the
Snakemake schema and wildcards, the report). Nothing else in fedbench lists their names."""

from __future__ import annotations

import functools

from fedbench.protocols.base import Protocol
from fedbench.registry import discover


@functools.cache
def registry() -> dict[str, Protocol]:
    """Name -> protocol, from every protocol module, in module order."""
    return discover(__name__, __path__, lambda module: getattr(module, "PROTOCOLS", ()),
                    "protocol")


def names() -> tuple[str, ...]:
    return tuple(registry())


def get_protocol(name: str) -> Protocol:
    try:
        return registry()[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; allowed: {', '.join(registry())}") from None

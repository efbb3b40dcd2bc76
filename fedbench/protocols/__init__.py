"""The protocol registry: every module of this package defines ``PROTOCOLS``, a tuple of
``Protocol``; adding a module adds its protocols everywhere (config validation, the
Snakemake schema and wildcards, the report). Nothing else in fedbench lists their names."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from fedbench.protocols.base import Protocol

_NOT_PROTOCOLS = {"base"}


@functools.cache
def registry() -> dict[str, Protocol]:
    """Name -> protocol, from every protocol module, in module order."""
    found: dict[str, Protocol] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in _NOT_PROTOCOLS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for protocol in getattr(module, "PROTOCOLS", ()):
            if protocol.name in found:
                raise RuntimeError(f"protocol {protocol.name!r} is defined twice "
                                   f"(in {module.__name__} and before it)")
            found[protocol.name] = protocol
    return found


def names() -> tuple[str, ...]:
    return tuple(registry())


def get_protocol(name: str) -> Protocol:
    try:
        return registry()[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; allowed: {', '.join(registry())}") from None

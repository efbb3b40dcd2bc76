"""What the algorithm and protocol registries share: entries found by importing every
module of a package, each entry named once.

A contributor adds an entry by adding a module; nothing lists the modules. Modules whose
name starts with "_" (shared helpers) and the names in ``skip`` (the package's base) hold no
entries.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def discover(package: str, path: Sequence[str], entries: Callable[[Any], Iterable[Any]],
             kind: str, skip: frozenset[str] = frozenset({"base"})) -> dict[str, Any]:
    """Name -> entry over the modules of ``package`` (sorted by module name); ``entries``
    gives a module's entries (each with a ``name``). A name defined twice is an error."""
    found: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for entry in entries(module):
            if entry.name in found:
                raise RuntimeError(f"{kind} {entry.name!r} is defined twice "
                                   f"(in {module.__name__} and before it)")
            found[entry.name] = entry
    return found

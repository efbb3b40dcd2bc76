"""The experiment configs that ship inside the package, for a fedbench installed with
``pip install .`` and run outside the repository.

``fedbench/configs`` is a link to the repository's ``configs/`` (the one copy of every
config and regression reference), which the wheel carries as package data
(``[tool.setuptools.package-data]``): ``fedbench run`` falls back to the shipped
``default.yaml`` when there is no ``configs/default.yaml`` where it runs, and
``fedbench init DIR`` writes all of them into ``DIR/configs/``.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from fedbench.errors import UsageError


def configs_dir() -> Traversable:
    return files("fedbench").joinpath("configs")


def config_names() -> list[str]:
    """The shipped experiment configs (``default.yaml``, ``quick.yaml``, ...)."""
    return sorted(p.name for p in configs_dir().iterdir() if p.name.endswith(".yaml"))


def config_path(name: str) -> Traversable:
    """A shipped config by file name; a UsageError naming the ones there are otherwise."""
    found = configs_dir().joinpath(name)
    if not found.is_file():
        raise UsageError(f"no shipped config {name!r}; shipped: {', '.join(config_names())}")
    return found


def shipped_files() -> dict[str, bytes]:
    """Relative path -> content of every shipped file (configs and ``expected/``)."""
    out: dict[str, bytes] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name.startswith((".", "_")):
                continue
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith((".yaml", ".csv", ".json")):
                out[prefix + child.name] = child.read_bytes()

    walk(configs_dir(), "")
    return out

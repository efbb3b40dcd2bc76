"""Packaging: one set of exact pins, shared by pyproject.toml and environment.yml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([^\s;]+)", req.strip())
        if match:
            pins[match.group(1).lower()] = match.group(3)
    return pins


def test_every_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert len(_pins(reqs)) == len(reqs), "every requirement needs an exact == pin"


def test_environment_yml_agrees_with_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pyproject = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = _pins([r for r in pip_section if "==" in r])
    assert conda == pyproject
    assert "python=3.11" in env["dependencies"]


def test_the_brief_pins() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins(project["dependencies"])
    assert (pins["flwr"], pins["torch"], pins["torchvision"]) == ("1.42.0", "2.14.1", "0.29.1")


def test_flower_apps_are_declared_for_flwr_run() -> None:
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["flwr"]["app"]
    assert tool["components"] == {
        "serverapp": "fedbench.apps.server_app:app",
        "clientapp": "fedbench.apps.client_app:app",
    }
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp

    from fedbench.apps.client_app import app as client_app
    from fedbench.apps.server_app import app as server_app

    assert isinstance(client_app, ClientApp) and isinstance(server_app, ServerApp)

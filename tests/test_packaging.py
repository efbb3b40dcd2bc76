"""Packaging: one set of exact pins, shared by pyproject.toml and environment.yml."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([^\s;]+)", req.strip())
        if match:
            pins[match.group(1).lower()] = match.group(3)
    return pins


def _requirements(project: dict) -> list[str]:
    """The dependencies and every extra's (dev, progress, ...)."""
    return project["dependencies"] + [r for extra in project["optional-dependencies"].values()
                                      for r in extra]


def test_every_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = _requirements(project)
    assert len(_pins(reqs)) == len(reqs), "every requirement needs an exact == pin"
    assert "snakemake-logger-plugin-rich" in _pins(project["optional-dependencies"]["progress"])


def test_environment_yml_agrees_with_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pyproject = _pins(_requirements(project))
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


def _source_tree(dest: Path) -> Path:
    """The files a `pip install .` builds from (the repository itself is left untouched: an
    in-tree build writes build/ and *.egg-info there)."""
    import shutil

    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "configs", dest / "configs", ignore=ignore)
    shutil.copytree(REPO / "fedbench", dest / "fedbench", symlinks=True, ignore=ignore)
    return dest


@pytest.mark.slow
def test_pip_install_gives_a_tool_that_runs_outside_the_checkout(tmp_path: Path,
                                                                  mnist_root: Path) -> None:
    """A real, non-editable install: the wheel `pip install .` builds, into a fresh venv whose
    dependencies are this environment's (linked by a .pth file rather than installed again),
    then `fedbench run` and `fedbench init` in a directory outside the repository."""
    import subprocess
    import sys
    import sysconfig
    import zipfile

    (tmp_path / "src").mkdir()
    src = _source_tree(tmp_path / "src")
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(src)], check=True)
    wheel = next(wheels.glob("fedbench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("fedbench/configs/default.yaml", "fedbench/configs/quick.yaml",
                    "fedbench/configs/expected/ci.csv"):
        assert shipped in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz_fedbench_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the linked site-packages holds this checkout's editable fedbench,
    # which pip would otherwise count as installed and skip the wheel
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--ignore-installed",
                    "-q", str(wheel)], check=True)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([str(python), "-c", "import fedbench; print(fedbench.__file__)"],
                           cwd=outside, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(venv))  # the installed copy, not the checkout

    fedbench = str(venv / "bin" / "fedbench")
    run = subprocess.run(
        [fedbench, "run", "--out", "run", "--quiet", "--seed", "1",
         "--mnist-dir", str(mnist_root / "MNIST" / "raw"),
         "--set", "federation.rounds=2", "--set", "federation.num_clients=20",
         "--set", "federation.clients_per_round=5", "--set", "training.local_epochs=1"],
        cwd=outside, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    payload = json.loads((outside / "run" / "run.json").read_text())
    assert payload["status"] == "ok" and payload["config"]["federation"]["rounds"] == 2
    assert payload["config"]["name"] == "fedprox-mnist"  # the shipped default.yaml

    init = subprocess.run([fedbench, "init", "project"], cwd=outside, env=env,
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    assert (outside / "project" / "configs" / "quick.yaml").read_text() == (
        REPO / "configs" / "quick.yaml").read_text()
    again = subprocess.run([fedbench, "init", "project"], cwd=outside, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0  # identical files: nothing to refuse
    (outside / "project" / "configs" / "quick.yaml").write_text("name: mine\n")
    clash = subprocess.run([fedbench, "init", "project"], cwd=outside, env=env,
                           capture_output=True, text=True)
    assert clash.returncode == 2 and "quick.yaml" in clash.stderr and "--force" in clash.stderr

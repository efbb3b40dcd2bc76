"""`--backend ray` attaches to a running Ray cluster when Ray's own RAY_ADDRESS names one, and
starts a private Ray otherwise (fedbench/apps/backends/ray.py). The two-node cluster itself is
tests/engines/ray/run.py (make test-engines-ray)."""

from __future__ import annotations

import pytest

from fedbench.apps.backends import ray as ray_backend


@pytest.mark.parametrize("value", [None, "", "  ", "local"])
def test_without_a_cluster_address_the_cell_starts_its_own_ray(value: str | None) -> None:
    environ = {} if value is None else {"RAY_ADDRESS": value}
    assert ray_backend.cluster_address(environ) is None
    config = ray_backend.backend_config(threads=3, address=None)
    assert config["init_args"]["num_cpus"] == 3
    assert "address" not in config["init_args"]


@pytest.mark.parametrize("value", ["127.0.0.1:6379", "auto", "ray://head:10001"])
def test_ray_address_attaches_to_that_cluster(value: str) -> None:
    address = ray_backend.cluster_address({"RAY_ADDRESS": value})
    assert address == value
    config = ray_backend.backend_config(threads=3, address=address)
    # Ray refuses num_cpus when it connects to an existing cluster
    assert "num_cpus" not in config["init_args"]
    assert config["init_args"]["address"] == value
    assert config["client_resources"] == {"num_cpus": 1, "num_gpus": 0.0}


def test_run_ray_passes_the_address_to_flowers_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import flwr.simulation

    calls = []
    monkeypatch.setattr(flwr.simulation, "run_simulation", lambda **kw: calls.append(kw))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6380")
    ray_backend.run_ray(server_app=object(), client_app=object(), num_nodes=7, threads=2)
    monkeypatch.delenv("RAY_ADDRESS")
    ray_backend.run_ray(server_app=object(), client_app=object(), num_nodes=7, threads=2)
    attached, private = (call["backend_config"]["init_args"] for call in calls)
    assert attached["address"] == "127.0.0.1:6380" and "num_cpus" not in attached
    assert private["num_cpus"] == 2 and "address" not in private
    assert [call["num_supernodes"] for call in calls] == [7, 7]

"""Settings the data cannot support are refused before any job starts (issue 13, class 4).

Each protocol declares the most clients its split can take (``Protocol.max_clients``,
derived from the data's size and per-label counts). A config above it is refused by
`fedbench run` and by `snakemake -n` with exit code 2 and a message naming the key, the
value and the allowed range; the partitioners themselves refuse it too, so that a direct
call never overruns a label, duplicates a sample or leaves a client empty.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedbench.cli import main
from fedbench.data import mnist, partitioners
from fedbench.errors import ConfigError
from fedbench.protocols import get_protocol, registry

REPO = Path(__file__).resolve().parents[1]
LIMITS = {  # protocol -> (most clients, allowed range as the message gives it)
    "flower-baseline": (5420, "allowed: 10..5420, a multiple of 10"),
    "paper": (6310, "allowed: 10..6310, a multiple of 10"),
    "mcmahan-iid": (60000, "allowed: 2..60000"),
    "mcmahan-noniid": (30000, "allowed: 2..30000"),
    "synthetic-iid": (1000, "allowed: 2..1000"),
    "synthetic-1-1": (1000, "allowed: 2..1000"),
}


def _config(tmp_path: Path, protocol: str, num_clients: int) -> Path:
    cfg = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    cfg["protocol"] = protocol
    cfg["federation"]["num_clients"] = num_clients
    if protocol.startswith("mcmahan"):
        cfg["training"]["model"] = "2nn"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_every_protocol_declares_its_limit() -> None:
    assert {name: p.max_clients for name, p in registry().items()} == {
        name: most for name, (most, _) in LIMITS.items()} | {
        "synthetic-0-0": 1000, "synthetic-0.5-0.5": 1000,
        "niid-bench-mnist": 60000, "niid-bench-fmnist": 60000}


# the cases (10,000, 60,000 and 10^12 power-law clients), and one step past each limit
TOO_MANY = [("flower-baseline", 10_000), ("flower-baseline", 60_000)] + [
    (protocol, n) for protocol, (most, _) in LIMITS.items()
    for n in (most + get_protocol(protocol).clients_multiple_of, 10**12)]


@pytest.mark.parametrize(("protocol", "num_clients"), TOO_MANY)
def test_fedbench_run_refuses_more_clients_than_the_split_can_take(
        tmp_path, capsys, protocol: str, num_clients: int) -> None:
    most, allowed = LIMITS[protocol]
    out = tmp_path / "out"
    started = time.monotonic()
    code = main(["run", "--config", str(_config(tmp_path, protocol, num_clients)),
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert time.monotonic() - started < 10  # refused with the config, nothing built
    assert f"federation.num_clients={num_clients}: protocol {protocol} can take at most " \
           f"{most} clients" in err
    assert allowed in err and "Traceback" not in err and "MemoryError" not in err
    assert not out.exists()  # before any job: not even the output directory


def test_snakemake_dry_run_refuses_them_too(tmp_path) -> None:
    from tests.test_workflow import output_of, snakemake

    for protocol, clients in (("flower-baseline", 10_000), ("synthetic-iid", 10**12)):
        proc = snakemake(tmp_path, "--configfile", str(_config(tmp_path, protocol, clients)),
                         "--dry-run")
        assert proc.returncode == 2, output_of(proc)
        assert f"federation.num_clients={clients}: protocol {protocol} can take at most" \
               in proc.stderr
        assert "Traceback" not in output_of(proc)
        assert not (tmp_path / "results").exists()


def test_the_limits_are_the_datas(mnist_root: Path) -> None:
    _, train_y, _, test_y = mnist.read_mnist(mnist_root)
    assert tuple(np.bincount(train_y)) == mnist.TRAIN_LABEL_COUNTS
    assert tuple(np.bincount(test_y)) == mnist.TEST_LABEL_COUNTS
    assert get_protocol("flower-baseline").max_clients == 5421 // 10 * 10
    assert get_protocol("paper").max_clients == (5421 + 892) // 10 * 10


@pytest.mark.slow
def test_the_power_law_at_its_limit_is_still_a_partition(mnist_root: Path) -> None:
    """At max_clients every client has 10 samples of its own two labels, none shared."""
    labels = mnist.read_mnist(mnist_root)[1]
    most = get_protocol("flower-baseline").max_clients
    parts = partitioners.power_law(labels, most, seed=0)
    flat = np.concatenate(parts)
    assert len(np.unique(flat)) == len(flat) <= len(labels)  # no sample twice
    for cid, part in enumerate(parts):
        assert len(part) >= 10
        assert set(labels[part]) <= {cid % 10, (cid + 1) % 10}  # only its own labels
    with pytest.raises(ConfigError, match=r"at most 5420 clients \(got 5430\)"):
        partitioners.power_law(labels, most + 10, seed=0)


def test_the_partitioners_refuse_what_they_cannot_do() -> None:
    labels = np.repeat(np.arange(10), 20)  # 20 samples of each label
    assert partitioners.power_law_max_clients(np.bincount(labels)) == 20
    assert len(partitioners.power_law(labels, 20, seed=0)) == 20
    with pytest.raises(ConfigError, match="the rarest label .20 samples. allows for at most 20 "
                                          r"clients \(got 30\); allowed: 10..20"):
        partitioners.power_law(labels, 30, seed=0)
    with pytest.raises(ConfigError, match=r"1..200 clients \(got 201\)"):
        partitioners.iid(200, 201, seed=0)
    with pytest.raises(ConfigError, match=r"allow 1..100 clients \(got 101\)"):
        partitioners.label_shards(labels, 101, 2, seed=0)
    parts = partitioners.label_shards(labels, 100, 2, seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(200))

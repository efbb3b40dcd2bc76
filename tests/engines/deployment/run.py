"""One cell on Flower's Deployment Engine, on this machine (make test-engines-deployment).

    .venv/bin/python tests/engines/deployment/run.py [--supernodes N] [--rounds R]
        [--kill-rounds R2] [--clients-per-round K] [--local-simulation] [--keep]

1. Starts a SuperLink (``flower-superlink --insecure``) and N SuperNodes (``flower-supernode
   --insecure``, each with its own ``--node-config "partition-id=i num-partitions=N"``), every
   port on 127.0.0.1 and chosen free: in flwr 1.42 the SuperLink serves its Fleet, Control and
   ServerAppIo APIs on one HTTP address (``--host 127.0.0.1 --port P``; the separate gRPC
   addresses of earlier versions are deprecated and unused), and every SuperNode serves its
   ClientApp processes on its own (``--host 127.0.0.1 --port Q``). Flower's files (the
   connection below, the installed app) go to a temporary FLWR_HOME; the app's dependencies
   are not installed at run time (this environment has them). Each process is recorded by PID,
   and the test checks that every socket they listen on is on 127.0.0.1.
2. Runs a cell of configs/quick.yaml (FedProx μ=2, 90 % stragglers, seed 0; R rounds, K
   clients per round of the 1000 partitions; data root made absolute; few rounds and clients:
   each client call is a new ClientApp process, which imports torch) in process, then with
   ``flwr run . <connection>`` against that SuperLink, the connection (address, insecure =
   true) written to FLWR_HOME/config.toml. That run names the cell with the keys of Flower's
   own FedProx baseline (``algorithm.num-server-rounds`` ...), which fedbench maps to its
   own. The ClientApp trains the partition each message names; the ServerApp routes partition
   p to the p-th SuperNode modulo N (sorted node ids), so N does not change the numbers: the
   two rounds.csv must be identical apart from timings.
3. Runs the cell again for R2 rounds (fedbench's own keys; the reference is an in-process
   run of R2 rounds) and SIGKILLs one SuperNode (and its processes)
   while it trains a client, after round 1: the SuperLink answers that node's messages with
   "node unavailable" once it misses its heartbeats (flwr 1.42: 30 s interval, 2 missed), the
   round counts them as failed clients, as the in-process Grid counts a ClientApp that
   raises, and the run goes on to its last round. Checked: the run completes (status ok),
   some client failed, and every round before the first failure equals the in-process run.
4. With --local-simulation, also ``flwr run .`` on Flower's own local simulation (the
   SuperLink that flwr starts by itself, here on free ports in the temporary FLWR_HOME): it
   runs on 2 SuperNodes (Flower's default) and gives the in-process numbers; the SuperLink
   it leaves running is then stopped by its PID (found from its port).
5. Stops every SuperNode and the SuperLink by PID (SIGTERM, bounded waits, then SIGKILL) and
   checks that nothing started, or seen as their child, is left.

Prints "SKIP deployment: <reason>" and exits 0 where it cannot run (no flwr executables,
not Linux, no MNIST); "FAIL deployment: ..." and exit 1 when it runs and something differs.
Every wait is bounded. Insecure mode (no TLS, no SuperNode authentication) on loopback only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from processes import (
    BIN,
    REPO,
    Failed,
    Processes,
    Skipped,
    alive,
    cmdline,
    compare,
    free_ports,
    listening,
    loopback,
    main,
    port_open,
    run,
    say,
    tail,
    versions,
    wait_for,
)

PART = "deployment"
CONFIG = "configs/quick.yaml"
CONNECTION = "fedbench-deployment-test"
CELL = ["--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.9", "--seed", "0"]
# the same cell in the keys of Flower's FedProx baseline (conf/mnist/fedprox_mu_2.0_sf_0.9.toml)
FLOWER_KEYS = ('algorithm.name="FedProx" algorithm.mu=2.0 algorithm.stragglers-fraction=0.9 '
               'fit.drop-client=false dataset.path="ylecun/mnist" dataset.seed=0 '
               'algorithm.num-server-rounds={rounds}')
FEDBENCH_KEYS = 'algorithm="fedprox" mu=2.0 stragglers=0.9 seed=0 rounds={rounds}'


class Flower:
    """The flwr CLI with this test's FLWR_HOME."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, timeout: float = 60, check: bool = True):
        return run([str(BIN / "flwr"), *args], timeout=timeout, env=self.env, check=check)

    def json(self, *args: str, timeout: float = 60) -> dict:
        out = self(*args, "--format", "json", timeout=timeout).stdout
        return json.loads(out[out.index("{"):])

    def start(self, run_config: str, connection: str = CONNECTION) -> str:
        reply = self.json("run", ".", connection, "--run-config", run_config, timeout=120)
        if not reply.get("success") or not reply.get("run-id"):
            raise Failed(f"flwr run did not start a run: {reply}")
        return str(reply["run-id"])

    def status(self, run_id: str, connection: str = CONNECTION) -> str:
        runs = self.json("list", connection, "--run-id", run_id)["runs"]
        return str(runs[0]["status"]) if runs else "unknown"

    def rounds_logged(self, run_id: str, connection: str = CONNECTION) -> int:
        """The last round the ServerApp's progress lines reported so far (-1: none)."""
        done = self(*["log", run_id, connection, "--show"], check=False)
        found = [int(r) for r in re.findall(r"round\s+(\d+)/\d+", done.stdout + done.stderr)]
        return max(found, default=-1)

    def wait_finished(self, run_id: str, timeout: float, tick, connection: str = CONNECTION,
                      during=None) -> str:
        status = {"now": ""}

        def finished() -> bool:
            if during is not None:
                during()
            status["now"] = self.status(run_id, connection)
            return status["now"].startswith("finished")

        wait_for(f"run {run_id} to finish", finished, timeout=timeout, every=2, tick=tick)
        return status["now"]


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def online(flwr: Flower) -> int:
    nodes = flwr.json("supernode", "list", CONNECTION).get("nodes", [])
    return sum(node.get("status") == "online" for node in nodes)


class Sockets:
    """Every TCP socket the recorded processes (and their descendants) listen on, over the
    test's polls: all must be on 127.0.0.1."""

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.found: set[tuple[int, str, int]] = set()

    def __call__(self) -> None:
        self.found |= set(listening(self.procs.all_pids()))
        outside = [f"pid {pid} ({cmdline(pid)[:60]}) on {address}:{port}"
                   for pid, address, port in sorted(self.found) if not loopback(address)]
        if outside:
            raise Failed(f"listening beyond 127.0.0.1: {'; '.join(outside)}")

    def report(self, t0: float, what: str) -> None:
        self()
        say(PART, t0, f"{what}: {len(self.found)} listening sockets seen so far, all on "
                      "127.0.0.1")


def body(t0: float, args: argparse.Namespace) -> None:
    missing = [name for name in ("flwr", "flower-superlink", "flower-supernode", "fedbench")
               if not (BIN / name).exists()]
    if missing:
        raise Skipped(f"{', '.join(missing)} not installed in {BIN}")
    root = (REPO / "resources").resolve()
    tmp = Path(tempfile.mkdtemp(prefix="fedbench-deployment-"))
    home = tmp / "flwr-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLWR_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", FLWR_HOME=str(home),
               FLWR_DISABLE_UPDATE_CHECK="1", FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
               RAY_USAGE_STATS_ENABLED="0")
    data = run([str(BIN / "fedbench"), "data", "mnist", "--root", str(root)], timeout=300,
               env=env, check=False)
    if data.returncode != 0:
        raise Skipped(f"MNIST is not available: {(data.stdout + data.stderr).strip()[-300:]}")
    say(PART, t0, f"{versions('flwr', 'fedbench')}; {args.supernodes} SuperNodes, "
                  f"runs of {args.rounds} and {args.kill_rounds} rounds, {args.clients_per_round} "
                  "of 1000 clients a round")

    # the cell's config: quick.yaml with an absolute data root (the apps' processes resolve a
    # relative one against their own working folder) and K clients per round
    config = yaml.safe_load((REPO / CONFIG).read_text())
    config["data"]["root"] = str(root)
    config["federation"]["clients_per_round"] = args.clients_per_round
    cell_config = tmp / "cell.yaml"
    cell_config.write_text(yaml.safe_dump(config, sort_keys=False))

    procs = Processes(tmp / "pids")
    flwr = Flower(env)
    nodes = [f"supernode{i}" for i in range(args.supernodes)]
    left: list[str] = []
    try:
        link_port, *node_ports = free_ports(1 + args.supernodes)
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{link_port}"\ninsecure = true\n')
        procs.start("superlink", [
            str(BIN / "flower-superlink"), "--insecure", "--isolation", "subprocess",
            "--host", "127.0.0.1", "--port", str(link_port),
            "--disable-runtime-dependency-installation",
        ], log=tmp / "superlink.log", env=env)

        def link_up() -> bool:
            if not procs.running("superlink"):
                raise Failed(f"flower-superlink exited:\n{tail(tmp / 'superlink.log')}")
            return port_open(link_port)

        waited = wait_for("the SuperLink", link_up, timeout=60, tick=procs.watch)
        say(PART, t0, f"SuperLink on 127.0.0.1:{link_port} in {waited:.1f} s "
                      f"(pid {procs.pid('superlink')})")
        for i, (name, port) in enumerate(zip(nodes, node_ports, strict=True)):
            procs.start(name, [
                str(BIN / "flower-supernode"), "--insecure",
                "--superlink", f"127.0.0.1:{link_port}",
                "--node-config", f"partition-id={i} num-partitions={args.supernodes}",
                "--isolation", "subprocess", "--host", "127.0.0.1", "--port", str(port),
                "--max-wait-time", "60",
            ], log=tmp / f"{name}.log", env=env)
        waited = wait_for(f"{args.supernodes} SuperNodes online",
                          lambda: online(flwr) == args.supernodes, timeout=120, every=2,
                          tick=procs.watch)
        say(PART, t0, f"{args.supernodes} SuperNodes online in {waited:.1f} s (pids "
                      f"{', '.join(str(procs.pid(n)) for n in nodes)})")
        sockets = Sockets(procs)
        sockets.report(t0, "SuperLink and SuperNodes up")

        references = {}
        for rounds in sorted({args.rounds, args.kill_rounds}):
            start = time.monotonic()
            references[rounds] = tmp / f"inprocess-{rounds}"
            run([str(BIN / "fedbench"), "run", "--config", str(cell_config), *CELL, "--rounds",
                 str(rounds), "--out", str(references[rounds]), "--quiet"], timeout=300, env=env)
            say(PART, t0, f"in-process run of {rounds} rounds: {time.monotonic() - start:.1f} s")

        # --- the cell through the Deployment Engine, in the Flower baseline's keys --------------
        start = time.monotonic()
        out = tmp / "deployment"
        run_id = flwr.start(f'config-file="{cell_config}" out="{out}" '
                            + FLOWER_KEYS.format(rounds=args.rounds))
        status = flwr.wait_finished(run_id, timeout=300, tick=procs.watch, during=sockets)
        if status != "finished:completed":
            log = flwr("log", run_id, CONNECTION, "--show", check=False).stdout
            raise Failed(f"run {run_id}: {status}\n{log[-2000:]}")
        sockets.report(t0, "during the run (with SuperExecs, ServerApp, ClientApps)")
        say(PART, t0, f"flwr run {run_id} (Flower baseline keys): {status} in "
                      f"{time.monotonic() - start:.1f} s")
        say(PART, t0, compare(references[args.rounds], out))

        # --- again, one SuperNode killed while it trains a client ---------------------------------
        start = time.monotonic()
        out = tmp / "deployment-kill"
        run_id = flwr.start(f'config-file="{cell_config}" out="{out}" '
                            + FEDBENCH_KEYS.format(rounds=args.kill_rounds))
        killed: dict[str, object] = {}

        def kill_when_busy() -> None:
            if killed or flwr.rounds_logged(run_id) < 1:
                return
            procs.watch()
            for name in nodes:
                busy = [p for p in procs.seen[name]
                        if "flwr-clientapp" in cmdline(p) and alive(p)]
                if busy and procs.running(name):
                    killed.update(name=name, pids=procs.kill(name),
                                  at=time.monotonic() - start)
                    say(PART, t0, f"SIGKILLed {name} (pid {procs.pid(name)}) and its "
                                  f"{len(killed['pids']) - 1} processes while it trained a "
                                  f"client, {killed['at']:.1f} s into the run")
                    return

        status = flwr.wait_finished(run_id, timeout=400, tick=procs.watch, during=kill_when_busy)
        if not killed:
            raise Failed(f"run {run_id} ended ({status}) before a SuperNode could be killed "
                         "mid-run; give it more rounds (--rounds)")
        if status != "finished:completed":
            raise Failed(f"run {run_id} with a SuperNode killed: {status}")
        summary = json.loads((out / "run.json").read_text())
        rows = read_rows(out / "rounds.csv")
        expected = read_rows(references[args.kill_rounds] / "rounds.csv")
        failed = [(int(r["round"]), int(r["failed"])) for r in rows if int(r["failed"])]
        if summary.get("status") != "ok" or len(rows) != args.kill_rounds + 1:
            raise Failed(f"run {run_id}: status {summary.get('status')!r}, "
                         f"{len(rows) - 1} of {args.kill_rounds} rounds")
        if not failed:
            raise Failed(f"run {run_id}: no client counted as failed after {killed['name']} "
                         "was killed")
        first = failed[0][0]
        for got, want in zip(rows[:first], expected[:first], strict=True):
            if {k: v for k, v in got.items() if k != "seconds"} != \
                    {k: v for k, v in want.items() if k != "seconds"}:
                raise Failed(f"round {got['round']}, before the SuperNode was killed, differs "
                             f"from the in-process run: {got} vs {want}")
        still = online(flwr)
        say(PART, t0, f"flwr run {run_id} with {killed['name']} killed: {status} in "
                      f"{time.monotonic() - start:.1f} s, status ok, all {args.kill_rounds} "
                      "rounds; "
                      f"failed clients (round, count): {failed}; rounds 0-{first - 1} equal the "
                      f"in-process run; {still} SuperNodes online after")

        if args.local_simulation:
            local_simulation(t0, tmp, env, references[args.rounds], args.rounds, procs)
    finally:
        start = time.monotonic()
        seen = len(procs.all_pids())
        procs.stop_all(order=[*[n for n in nodes if n in procs.started],
                              *[n for n in ("superlink", "local-superlink")
                                if n in procs.started]])
        left = procs.left_behind(marker=str(tmp))
        if left:
            say(PART, t0, "left behind: " + "; ".join(left))
        else:
            say(PART, t0, f"stopped by PID in {time.monotonic() - start:.1f} s: none of the "
                          f"{seen} processes started or seen as their children is left")
        if args.keep or left:
            say(PART, t0, f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if left:
        raise Failed("processes left behind: " + "; ".join(left))


def local_simulation(t0: float, tmp: Path, env: dict[str, str], reference: Path, rounds: int,
                     procs: Processes) -> None:
    """``flwr run .`` on the local SuperLink flwr starts by itself (Flower's default
    connection "local"), with a FLWR_HOME and ports of its own; the SuperLink is stopped by
    the PID that listens on its port."""
    home = tmp / "flwr-home-local"
    http_port, control_port = free_ports(2)
    local = {**env, "FLWR_HOME": str(home), "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(http_port),
             "FLWR_LOCAL_CONTROL_API_PORT": str(control_port)}
    flwr = Flower(local)
    start = time.monotonic()
    out = tmp / "local-simulation"
    try:
        run_id = flwr.start(f'config-file="{tmp / "cell.yaml"}" out="{out}" '
                            + FEDBENCH_KEYS.format(rounds=rounds), connection="local")
    finally:
        owners = {pid for pid, _, port in listening(
            int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit())
            if port == http_port}
        if owners:
            procs.adopt("local-superlink", min(owners))
    status = flwr.wait_finished(run_id, timeout=300, tick=procs.watch, connection="local")
    log = flwr("log", run_id, "local", "--show", check=False).stdout
    size = re.search(r"\((\d+) simulated SuperNodes\)", log)
    if status != "finished:completed":
        raise Failed(f"local simulation run {run_id}: {status}\n{log[-2000:]}")
    say(PART, t0, f"flwr run . (local simulation, {size.group(1) if size else '?'} simulated "
                  f"SuperNodes): {status} in {time.monotonic() - start:.1f} s; the local "
                  f"SuperLink left running is pid {procs.pid('local-superlink')}")
    say(PART, t0, compare(reference, out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--supernodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the first run")
    parser.add_argument("--kill-rounds", type=int, default=3,
                        help="rounds of the run in which a SuperNode is killed (at least 2)")
    parser.add_argument("--clients-per-round", type=int, default=3)
    parser.add_argument("--local-simulation", action="store_true",
                        help="also flwr run . on Flower's local simulation (about a minute)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    arguments = parser.parse_args()
    sys.exit(main(PART, lambda t0: body(t0, arguments)))

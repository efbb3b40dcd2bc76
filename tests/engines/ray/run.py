"""One cell on a two-node Ray cluster, attached through RAY_ADDRESS (make test-engines-ray).

    .venv/bin/python tests/engines/ray/run.py [--rounds N] [--keep]

1. Starts a Ray cluster of two nodes on this machine, each with 1 CPU: a head
   (``ray start --head --node-ip-address 127.0.0.1 --port P``) and a second node
   (``ray start --address 127.0.0.1:P``), every port chosen free on 127.0.0.1, Ray's files in
   a temporary folder. Both run with ``--block``, so each node is one recorded process whose
   children are that node's Ray processes.
2. Runs one cell of configs/quick.yaml (FedProx μ=2, 90 % stragglers, seed 0, a few rounds,
   data root made absolute: the Ray workers do not run in the project folder) twice:
   in process, and with ``--backend ray`` and ``RAY_ADDRESS=127.0.0.1:P``, so that Flower's
   Simulation Engine attaches to the cluster instead of starting its own Ray.
3. Checks that the two rounds.csv are identical apart from timings
   (tests/engines/compare_runs.py), and, from Ray's own records of the cluster (the GCS task
   table: every ``ClientAppActor.run`` task with the node that ran it, the same table
   ``ray list tasks`` reads through the dashboard, which Flower's ``flwr[simulation]`` install
   of Ray does not include), that every client call of the run ran on the cluster and that
   both nodes ran some.
4. Stops the second node and the head by their recorded PIDs (SIGTERM, bounded waits, then
   SIGKILL), never with ``ray stop`` (which stops every Ray of this user on the machine), and
   checks that nothing is left of any process started or seen as their descendant, nor of
   any process naming the temporary folder.

Prints "SKIP ray: <reason>" and exits 0 where it cannot run (no Ray, not Linux, no MNIST);
exits 1 with "FAIL ray: ..." when it runs and something differs; "PASS ray" otherwise.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from processes import (
    BIN,
    REPO,
    Failed,
    Processes,
    Skipped,
    compare,
    free_ports,
    listening,
    loopback,
    main,
    run,
    say,
    tail,
    versions,
    wait_for,
)

PART = "ray"
CONFIG = "configs/quick.yaml"
CELL = ["--algorithm", "fedprox", "--mu", "2", "--stragglers", "0.9", "--seed", "0"]
CPUS_PER_NODE = 1
OBJECT_STORE = 100 * 1024 * 1024  # bytes per node (Ray's minimum is 75 MiB)
READY = "This command will now block forever"  # `ray start --block`, once the node is up

# Ray's records of the cluster, read by a driver of its own: the nodes, the GCS task table
# (task name and the node that ran it) and the actor table.
QUERY = r"""
import json, sys
import ray
from ray._private import state
from ray.core.generated import gcs_pb2
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
nodes = {n["NodeID"]: bool(n["Alive"]) for n in ray.nodes()}
tasks = {}
for raw in state.state._connect_and_get_accessor().get_task_events():
    event = gcs_pb2.TaskEvents.FromString(raw)
    task = tasks.setdefault(event.task_id.hex(), {"name": "", "node": "", "job": ""})
    task["job"] = event.job_id.hex()
    if event.task_info.name:
        task["name"] = event.task_info.name
    if event.state_updates.node_id:
        task["node"] = event.state_updates.node_id.hex()
actors = [{"class": a["ActorClassName"], "node": a["Address"]["NodeID"], "job": a["JobID"]}
          for a in state.actors().values()]
print(json.dumps({"nodes": nodes, "tasks": list(tasks.values()), "actors": actors}))
ray.shutdown()
"""


def cluster_state(address: str, env: dict[str, str]) -> dict:
    done = run([sys.executable, "-c", QUERY, address], timeout=90, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def sampled(rounds_csv: Path) -> int:
    with open(rounds_csv, newline="") as handle:
        return sum(int(row["sampled"]) for row in csv.DictReader(handle))


def start_node(procs: Processes, name: str, argv: list[str], log: Path, env: dict[str, str],
               t0: float) -> None:
    procs.start(name, argv, log=log, env=env)

    def ready() -> bool:
        if not procs.running(name):
            raise Failed(f"ray start ({name}) exited {procs.popen[name].returncode}:\n"
                         f"{tail(log)}")
        return READY in log.read_text(errors="replace")

    waited = wait_for(f"the Ray {name} node", ready, timeout=120, tick=procs.watch)
    say(PART, t0, f"{name} node up in {waited:.1f} s (pid {procs.pid(name)})")


def body(t0: float, rounds: int, keep: bool) -> None:
    if importlib.util.find_spec("ray") is None or not (BIN / "ray").exists():
        raise Skipped(f"Ray is not installed in {BIN.parent}")
    root = (REPO / "resources").resolve()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", RAY_USAGE_STATS_ENABLED="0",
               RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO="0")
    data = run([str(BIN / "fedbench"), "data", "mnist", "--root", str(root)], timeout=300,
               env=env, check=False)
    if data.returncode != 0:
        raise Skipped(f"MNIST is not available: {(data.stdout + data.stderr).strip()[-300:]}")
    say(PART, t0, versions("ray", "flwr", "fedbench"))

    # a short path: Ray's socket paths below it must stay under the 107-byte limit
    tmp = Path(tempfile.mkdtemp(prefix="fedbench-ray-", dir="/tmp" if Path("/tmp").is_dir()
                                else None))
    procs = Processes(tmp / "pids")
    try:
        head_ports = dict(zip(("port", "dashboard-port", "ray-client-server-port",
                               "node-manager-port", "object-manager-port",
                               "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                               "runtime-env-agent-port", "metrics-export-port"),
                              free_ports(9), strict=True))
        node_ports = dict(zip(("node-manager-port", "object-manager-port",
                               "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                               "runtime-env-agent-port", "metrics-export-port"),
                              free_ports(6), strict=True))
        address = f"127.0.0.1:{head_ports['port']}"
        common = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", str(CPUS_PER_NODE),
                  "--num-gpus", "0", "--object-store-memory", str(OBJECT_STORE),
                  "--temp-dir", str(tmp / "ray"), "--disable-usage-stats"]
        head = [str(BIN / "ray"), "start", "--head", *common, "--include-dashboard", "false",
                "--dashboard-host", "127.0.0.1",
                *[f"--{k}={v}" for k, v in head_ports.items()]]
        node = [str(BIN / "ray"), "start", "--address", address, *common,
                *[f"--{k}={v}" for k, v in node_ports.items()]]
        start_node(procs, "head", head, tmp / "head.log", env, t0)
        start_node(procs, "second", node, tmp / "second.log", env, t0)
        nodes = cluster_state(address, env)["nodes"]
        if sum(nodes.values()) != 2:
            raise Failed(f"the cluster has {sum(nodes.values())} live node(s), not 2: {nodes}")
        say(PART, t0, f"cluster at {address}: 2 nodes, {CPUS_PER_NODE} CPU each")
        public = sorted({f"{a}:{p}" for _, a, p in listening(procs.all_pids())
                         if not loopback(a)})
        if public:
            say(PART, t0, f"note: Ray listens beyond loopback on {', '.join(public)} "
                          "(its servers bind every interface)")

        cell = [str(BIN / "fedbench"), "run", "--config", CONFIG, *CELL, "--rounds", str(rounds),
                "--set", f"data.root={root}", "--quiet"]
        start = time.monotonic()
        run([*cell, "--out", str(tmp / "inprocess")], timeout=300, env=env)
        say(PART, t0, f"in-process run: {time.monotonic() - start:.1f} s")

        start = time.monotonic()
        attached = {**env, "RAY_ADDRESS": address}
        log = tmp / "ray-run.log"
        with open(log, "wb") as out:
            cell_run = subprocess.Popen([*cell, "--backend", "ray", "--out", str(tmp / "ray")],
                                        cwd=REPO, env=attached, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for("the Ray run", lambda: cell_run.poll() is not None, timeout=300,
                     tick=procs.watch)
        finally:
            if cell_run.poll() is None:
                cell_run.kill()
                cell_run.wait(timeout=10)
        if cell_run.returncode != 0:
            raise Failed(f"the Ray run exited {cell_run.returncode}:\n{tail(log)}")
        say(PART, t0, f"Ray run attached to the cluster: {time.monotonic() - start:.1f} s")
        backend = json.loads((tmp / "ray" / "run.json").read_text())
        if backend.get("backend") != "ray" or backend.get("status") != "ok":
            raise Failed(f"the Ray run's run.json: backend {backend.get('backend')!r}, "
                         f"status {backend.get('status')!r}")

        say(PART, t0, compare(tmp / "inprocess", tmp / "ray"))

        expected = sampled(tmp / "ray" / "rounds.csv")
        per_node: dict[str, int] = {}

        def all_recorded() -> bool:
            per_node.clear()
            records = cluster_state(address, env)
            jobs = {t["job"] for t in records["tasks"] if t["name"] == "ClientAppActor.run"}
            if len(jobs) != 1:
                raise Failed(f"ClientApp tasks of {len(jobs)} jobs in a fresh cluster, not 1")
            for task in records["tasks"]:
                if task["name"] == "ClientAppActor.run":
                    per_node[task["node"]] = per_node.get(task["node"], 0) + 1
            per_node["actors"] = len({a["node"] for a in records["actors"]
                                      if a["class"] == "ClientAppActor"})
            return sum(v for k, v in per_node.items() if k != "actors") >= expected

        wait_for(f"Ray's task table to hold the run's {expected} client calls", all_recorded,
                 timeout=30, every=2)
        actor_nodes = per_node.pop("actors")
        shown = ", ".join(f"node {k[:8]}: {v}" for k, v in sorted(per_node.items()))
        say(PART, t0, f"ClientApp calls per node (Ray's task table): {shown}; ClientApp "
                      f"actors on {actor_nodes} node(s)")
        if sum(per_node.values()) != expected or "" in per_node:
            raise Failed(f"{sum(per_node.values())} ClientApp tasks in Ray's records, the run "
                         f"sampled {expected}: {per_node}")
        if set(per_node) != set(nodes) or min(per_node.values()) < 1:
            raise Failed(f"the clients did not run on both nodes: {per_node} (nodes {nodes})")
    finally:
        seen = len(procs.all_pids())
        start = time.monotonic()
        procs.stop_all(order=[name for name in ("second", "head") if name in procs.started])
        left = procs.left_behind(marker=str(tmp))
        if left:
            say(PART, t0, "left behind: " + "; ".join(left))
        else:
            say(PART, t0, f"cluster stopped by PID in {time.monotonic() - start:.1f} s: none of "
                          f"the {seen} processes started or seen as their children is left")
        if keep or left:
            say(PART, t0, f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if left:
        raise Failed("processes left behind: " + "; ".join(left))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    sys.exit(main(PART, lambda t0: body(t0, args.rounds, args.keep)))

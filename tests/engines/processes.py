"""What the engine tests (tests/engines/ray/run.py, tests/engines/deployment/run.py) share:
processes started, recorded and stopped by their PID, free ports on 127.0.0.1, bounded waits
and the listening sockets of a process tree. Linux only (it reads /proc).

Every process is started in a session of its own and its PID written to ``<dir>/<name>.pid``.
Its descendants are looked up in /proc whenever ``Processes.watch`` runs (the tests call it
while they wait), so that the ones that come and go (Ray workers, Flower's per-message
ClientApp processes) are known too. ``Processes.stop`` sends SIGTERM to one recorded process,
waits a bounded time, then does the same to every descendant seen that is still alive, and
ends with SIGKILL; nothing is ever stopped by its name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the environment's scripts: fedbench, ray, flwr, ...


class Failed(Exception):
    """The part ran and something is wrong: FAIL, exit status 1."""


class Skipped(Exception):
    """The part cannot run here: SKIP, exit status 0."""


def say(part: str, t0: float, message: str) -> None:
    print(f"[{part} {time.monotonic() - t0:5.1f}s] {message}", flush=True)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now (held together while they are
    chosen, so that no two are the same)."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5,
             tick: Callable[[], None] | None = None) -> float:
    """Wait until ``check()`` is true, at most ``timeout`` seconds (Failed after that);
    returns the seconds waited. ``tick`` runs at every try (e.g. ``Processes.watch``)."""
    start = time.monotonic()
    while True:
        if tick:
            tick()
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent PID, state letter) of a live process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie holds nothing but its table entry,
    and its parent, or init, reaps it)."""
    stat = _stat(pid)
    return stat is not None and stat[1] not in ("Z", "X")


def children_map() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found.setdefault(stat[0], []).append(int(entry.name))
    return found


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> set[int]:
    children = children_map() if children is None else children
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return ""


def listening(pids: Iterable[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket the given processes hold."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            hex_address, hex_port = fields[1].split(":")
            found.append((inodes[fields[9]], _address(hex_address, width), int(hex_port, 16)))
    return sorted(found)


def _address(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp* hold the address as 32-bit words in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if width == 8:
        return socket.inet_ntop(socket.AF_INET, words)
    if words[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, words[12:])  # an IPv4-mapped address
    return socket.inet_ntop(socket.AF_INET6, words)


def loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


class Processes:
    """The processes a test started (or adopted: one a tool started for it, found by its
    port), by name, their PID files under ``directory``, and every descendant ever seen."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.started: dict[str, int] = {}  # name -> PID
        self.popen: dict[str, subprocess.Popen] = {}  # the ones this process started
        self.seen: dict[str, set[int]] = {}  # name -> descendants ever seen

    def _record(self, name: str, pid: int) -> None:
        self.started[name] = pid
        self.seen[name] = set()
        (self.directory / f"{name}.pid").write_text(f"{pid}\n")

    def start(self, name: str, argv: list[str], *, log: Path, cwd: Path = REPO,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.popen[name] = proc
        self._record(name, proc.pid)
        return proc

    def adopt(self, name: str, pid: int) -> None:
        """Record a process this test caused but did not start itself."""
        self._record(name, pid)

    def pid(self, name: str) -> int:
        return int((self.directory / f"{name}.pid").read_text())

    def watch(self) -> None:
        """Record the current descendants of every recorded process."""
        children = children_map()
        for name, pid in self.started.items():
            self.seen[name] |= descendants(pid, children)

    def all_pids(self) -> set[int]:
        self.watch()
        found = set()
        for name, pid in self.started.items():
            found |= {pid, *self.seen[name]}
        return found

    def _reap(self, name: str, timeout: float) -> None:
        """Wait (bounded) for a recorded process to end; reaps it when it is our child."""
        if name in self.popen:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen[name].wait(timeout=timeout)
            return
        deadline = time.monotonic() + timeout
        while alive(self.started[name]) and time.monotonic() < deadline:
            time.sleep(0.2)

    def running(self, name: str) -> bool:
        if name in self.popen:
            return self.popen[name].poll() is None
        return alive(self.started[name])

    def kill(self, name: str) -> list[int]:
        """SIGKILL a process and its current descendants at once (a machine that dies)."""
        self.watch()
        pids = [self.started[name], *sorted(descendants(self.started[name]))]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reap(name, 10)
        return pids

    def stop(self, name: str, timeout: float = 20.0) -> None:
        """SIGTERM the recorded process and wait; then the same for its descendants still
        alive; then SIGKILL whatever is left (each wait bounded by ``timeout``)."""
        self.watch()
        if self.running(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.started[name], signal.SIGTERM)
            self._reap(name, timeout)
        self.watch()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = [p for p in [self.started[name], *sorted(self.seen[name])] if alive(p)]
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while any(alive(p) for p in left) and time.monotonic() < deadline:
                time.sleep(0.2)
        self._reap(name, 1)

    def stop_all(self, order: Iterable[str] | None = None, timeout: float = 20.0) -> None:
        for name in list(order) if order is not None else list(reversed(self.started)):
            self.stop(name, timeout)

    def left_behind(self, marker: str | None = None) -> list[str]:
        """What is still alive of everything recorded (and, with ``marker``, of any process
        whose command line holds it, e.g. the test's own temporary folder)."""
        pids = {p for name, pid in self.started.items()
                for p in (pid, *self.seen[name]) if alive(p)}
        if marker:
            pids |= {int(e.name) for e in Path("/proc").iterdir()
                     if e.name.isdigit() and int(e.name) != os.getpid()
                     and marker in cmdline(int(e.name)) and alive(int(e.name))}
        return [f"{pid} {cmdline(pid)[:120]}" for pid in sorted(pids)]


def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """A command to its end, at most ``timeout`` seconds; Failed when it fails (``check``)."""
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Failed(f"{' '.join(argv[:3])} ...: no end after {timeout:.0f} s") from None
    if check and done.returncode != 0:
        raise Failed(f"{' '.join(argv[:4])} ... exited {done.returncode}:\n"
                     f"{(done.stdout + done.stderr)[-2000:]}")
    return done


def compare(dir_a: Path, dir_b: Path, *ignore: str) -> str:
    """tests/engines/compare_runs.py on two result folders; Failed naming the difference."""
    argv = [sys.executable, str(REPO / "tests" / "engines" / "compare_runs.py"),
            str(dir_a), str(dir_b), *[f"--ignore={c}" for c in ignore]]
    done = run(argv, timeout=60, check=False)
    message = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise Failed(message)
    return message


def versions(*packages: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    shown = []
    for package in packages:
        try:
            shown.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            shown.append(f"{package} (not installed)")
    return ", ".join(shown)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def main(part: str, body: Callable[[float], None]) -> int:
    """Run ``body(t0)``: 0 when it returns, SKIP (0) or FAIL (1) with one line."""
    t0 = time.monotonic()
    if not Path("/proc/self/stat").exists():
        print(f"SKIP {part}: needs Linux (/proc) to record and stop processes by PID")
        return 0
    try:
        body(t0)
    except Skipped as exc:
        print(f"SKIP {part}: {exc}", flush=True)
        return 0
    except Failed as exc:
        print(f"FAIL {part}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"PASS {part} ({time.monotonic() - t0:.0f} s)", flush=True)
    return 0

"""Serving models side by side: update_did served by each, alternated, in one run.

    .venv/bin/python -m bench.serving                    # about 12 minutes
    .venv/bin/python -m bench.serving --quick            # about 5 minutes
    .venv/bin/python -m bench.serving --workers 2,4 --inline 4 --plain-cursor 2
    .venv/bin/python -m bench.serving --workers 2 --inline "" --commits 3797611
    .venv/bin/python -m bench.serving --workers 2 --inline "" --pools 2,4

Every model serves the same database (VICIdial's MyISAM schema, then vicidid's InnoDB
tables; `--backends`) from a process of its own, all started at once; then, round after
round, each model in turn gets update_did under wrk at 16 and 64 connections, so that
what else runs on the machine falls on all of them alike. The models:

- `base`: the code before the serving model changed (`--base`), run from a copy of its
  tree: 2 workers sharing one listening socket, the pipeline on 8 request threads each;
- `threads, N workers, a socket each`: this tree (`--workers`): a listening socket per
  worker (SO_REUSEPORT), the pipeline on the request threads;
- `threads (COMMIT)`: an earlier commit of this tree's model, 2 workers (`--commits`);
- `threads, 2 workers, N threads each`: this tree with N request threads (and database
  connections) per worker rather than those it chooses for the database (`--pools`);
- `threads, N workers, 1 ms switch`: this tree, each process handing the interpreter
  between its threads every millisecond rather than every 5 (`--switch-threads`);
- `inline, N workers`: the commit that ran the pipeline on each worker's event loop
  (`--inline-commit`, `--inline`), a socket per worker too; SQLite and copies of more than
  16 DIDs stayed on threads there;
- `plain cursor`: this tree with store/mysqldb.py's quicker path off (mysqlclient's
  cursor sends each message; `--plain-cursor`).

Per model and point: requests/s, p50 and p99 (wrk); the CPU of the server's whole
process tree, of MariaDB and of wrk over the run, each divided by the requests served; and
the requests/s the cores would allow if the server cost nothing. Per model, the median
over the rounds. Then, per model: the connections each worker holds after each of 5 bursts of 64
new connections; while one copy_did of 10,000 new DIDs runs, the update_did latency of 8
other clients; and each worker's resident memory. The load average is printed with every
round. PHP's figures are the reference measured on this machine with VICIdial's PHP on
php-fpm behind nginx (16 children): p99 67 ms at 16 and 197 ms at 64 connections.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("VICIDID_BENCH_NAME", "vicidid_serving")

import httpx

from bench import run as bench

HERE = Path(__file__).parent
BASE = "f0b8c3d"  # the last commit before the serving model changed
INLINE = "9e71873"  # the commit that ran the pipeline on the event loop
PHP_P99 = {16: 67.0, 64: 197.0}  # ms, VICIdial's PHP on this machine (the run)
# With this on the path every process of a server (its workers included) sends through
# mysqlclient's cursor rather than store/mysqldb.py
PLAIN_CURSOR = "import vicidid.store.mysqldb as m\nm.Cursor = None\n"
# ... and every process switches threads every millisecond rather than every 5
SWITCH = "import sys\nsys.setswitchinterval(0.001)\n"


@dataclass
class Point:
    """One model's turn under wrk: its rate and latencies, and the CPU each party spent
    per request (ms): the server's process tree, MariaDB, and wrk itself."""

    rate: float
    p50: float
    p99: float
    server: float
    mariadb: float
    wrk: float
    errors: int

    @property
    def ceiling(self) -> float:
        """Requests/s the machine's cores allow if the server cost nothing: what MariaDB
        and wrk spend per request bounds the rate whatever the server does."""
        return (os.cpu_count() or 1) * 1000 / (self.mariadb + self.wrk)


@dataclass
class Model:
    name: str
    workers: int
    tree: Path | None = None  # serve from this source tree
    shim: str = ""  # Python run first in each of its processes (sitecustomize)
    pool: int = 0  # request threads (and connections) per worker; 0: as serve chooses
    url: str = ""
    process: subprocess.Popen | None = None
    log: object = None
    points: dict[int, list[Point]] = field(default_factory=dict)


def base_tree(commit: str) -> Path:
    """A copy of `commit`'s tree in the temporary directory (made once)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", commit], capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"vicidid-tree-{sha}"
    if not (tree / "vicidid").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def start(model: Model, db: str) -> None:
    paths = []
    if model.tree is not None:
        paths.append(str(model.tree))
    if model.shim:
        shim = Path(tempfile.mkdtemp(prefix="vicidid-shim-"))
        (shim / "sitecustomize.py").write_text(model.shim)
        paths.append(str(shim))
    env = {"PYTHONPATH": os.pathsep.join(paths)} if paths else {}
    if model.pool:
        env["VICIDID_POOL_SIZE"] = env["VICIDID_REQUEST_THREADS"] = str(model.pool)
    args = [sys.executable, "-m", "vicidid", "--db", db, "serve", "--workers", str(model.workers)]
    model.url, model.process, model.log = bench.start(
        [*args, "--no-login-throttle"], "/healthz", env=env
    )


def workers_of(pid: int) -> list[int]:
    """The worker processes of a server (its children that hold a socket)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(child))
    return found or [pid]


def established(port: int) -> dict[int, int]:
    """Socket inode → 1 for each established connection to `port` (server side)."""
    inodes: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes[int(parts[9])] = 1
    return inodes


def split(model: Model, bursts: int = 5, size: int = 64) -> list[list[int]]:
    """The connections each worker holds after each burst of `size` new connections."""
    assert model.process is not None
    port = int(model.url.rsplit(":", 1)[1])
    request = f"GET {bench.API}?function=version HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    result = []
    for _ in range(bursts):
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(size)]
        for s in socks:
            s.sendall(request)
        for s in socks:
            s.recv(4096)
        inodes = established(port)
        counts = []
        for pid in workers_of(model.process.pid):
            held = 0
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    held += 1
            counts.append(held)
        for s in socks:
            s.close()
        result.append(sorted(counts, reverse=True))
        time.sleep(0.5)
    return result


def during_copy(model: Model, first: int, clients: int = 8) -> tuple[float, float, int, float]:
    """(p50 ms, p99 ms, requests) of update_did by `clients` others while a copy of 10,000
    new DIDs runs, and the copy's own seconds."""
    api = model.url + bench.API
    window: list[float] = []
    latencies: list[tuple[float, float]] = []
    stop = threading.Event()

    def other(n: int) -> None:
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        with httpx.Client(transport=httpx.HTTPTransport(socket_options=nodelay)) as client:
            count = 0
            while not stop.is_set():
                did = bench.DIDS[(n * 25 + count) % len(bench.DIDS)]
                t0 = time.perf_counter()
                client.get(
                    api,
                    params={
                        "function": "update_did",
                        "user": "admin",
                        "pass": "1234",
                        "source": "bench",
                        "did_pattern": did,
                        "did_description": f"copy {count % 2}",
                    },
                    timeout=60,
                )
                latencies.append((t0, (time.perf_counter() - t0) * 1000))
                count += 1

    threads = [threading.Thread(target=other, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    window.append(time.perf_counter())
    row = bench.copies(model.url, 10_000, 1, 1, first)
    window.append(time.perf_counter())
    stop.set()
    for t in threads:
        t.join()
    inside = sorted(ms for t0, ms in latencies if window[0] <= t0 <= window[1])
    if not inside or row.errors:
        return float("nan"), float("nan"), len(inside), float("nan")
    p99 = inside[min(len(inside) - 1, int(len(inside) * 0.99))]
    return statistics.median(inside), p99, len(inside), window[1] - window[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(model: Model, connections: int, seconds: int) -> None:
    assert model.process is not None

    def spent() -> tuple[float, float, float]:
        # wrk is the only child that ends (and is waited for) during the measure
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            bench.cpu_seconds(model.process.pid if model.process else None),
            bench.cpu_seconds(bench.mariadb_pid()),
            children.ru_utime + children.ru_stime,
        )

    before = spent()
    rate, p50, p99, errors = bench.wrk(model.url, "update_did", connections, seconds)
    server, mariadb, wrk = (
        (b - a) * 1000 / (rate * seconds) for a, b in zip(before, spent(), strict=True)
    )
    point = Point(rate, p50, p99, server, mariadb, wrk, errors)
    model.points.setdefault(connections, []).append(point)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def models_of(args: argparse.Namespace) -> list[Model]:
    """The base, then each model the options list (each a comma-separated list)."""
    inline = args.inline_commit
    kinds: list[tuple[str, Callable[[str], Model]]] = [
        (args.commits, lambda c: Model(f"threads ({c}), 2 workers", 2, base_tree(c))),
        (args.workers, lambda n: Model(f"threads, {n} workers, a socket each", int(n))),
        (args.pools, lambda n: Model(f"threads, 2 workers, {n} threads each", 2, pool=int(n))),
        (
            args.switch_threads,
            lambda n: Model(f"threads, {n} workers, 1 ms switch", int(n), shim=SWITCH),
        ),
        (
            args.inline,
            lambda n: Model(f"inline ({inline}), {n} workers", int(n), base_tree(inline)),
        ),
        (
            args.plain_cursor,
            lambda n: Model(f"threads, {n} workers, plain cursor", int(n), shim=PLAIN_CURSOR),
        ),
        (
            args.switch,
            lambda n: Model(
                f"inline ({inline}), {n} workers, 1 ms switch", int(n), base_tree(inline), SWITCH
            ),
        ),
    ]
    models = [Model(f"base ({args.base}), 2 workers, threads", 2, base_tree(args.base))]
    for listed, make in kinds:
        models += [make(item) for item in listed.split(",") if item]
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer rounds")
    parser.add_argument("--workers", default="2,4", help="worker counts of this tree")
    parser.add_argument("--inline", default="4", help="worker counts of the inline commit")
    parser.add_argument("--inline-commit", default=INLINE)
    parser.add_argument(
        "--pools", default="", help="request threads per worker to try, this tree, 2 workers"
    )
    parser.add_argument("--plain-cursor", default="", help="worker counts to run without mysqldb")
    parser.add_argument("--switch", default="", help="inline worker counts with a 1 ms switch")
    parser.add_argument(
        "--switch-threads", default="", help="worker counts of this tree with a 1 ms switch"
    )
    parser.add_argument("--base", default=BASE, help="the commit whose model is today's")
    parser.add_argument("--commits", default="", help="earlier commits of this model, 2 workers")
    parser.add_argument("--backends", default="myisam,mariadb")
    parser.add_argument("--rounds", type=int, default=0)
    args = parser.parse_args()
    seconds = 4 if args.quick else 6
    rounds = args.rounds or (2 if args.quick else 3)
    bench.OUT.mkdir(exist_ok=True)
    print(bench.machine(), flush=True)
    for backend in args.backends.split(","):
        models = models_of(args)
        db = bench.prepare(backend)
        print(f"\n## {backend}\n", flush=True)
        try:
            for model in models:
                start(model, db)
            for r in range(rounds):
                print(f"round {r + 1}: load average {load()}", flush=True)
                for connections in (16, 64):
                    for model in models if r % 2 == 0 else reversed(models):
                        measure(model, connections, seconds)
            print(f"after the rounds: load average {load()}\n", flush=True)
            print(table(models, backend))
            print("\n| model | connections per worker after each burst of 64 | worst ÷ even |")
            print("|---|---|---|")
            for model in models:
                bursts = split(model)
                even = 64 / len(bursts[0])
                worst = max(max(b) for b in bursts) / even
                text = ", ".join("/".join(map(str, b)) for b in bursts)
                print(f"| {model.name} | {text} | {worst:.2f} |", flush=True)
            print("\n| model | others' update_did during a 10,000-DID copy: p50 / p99 ms "
                  "| requests | copy s | RSS per worker MB |")  # fmt: skip
            print("|---|---|---|---|---|")
            for n, model in enumerate(models):
                assert model.process is not None
                p50, p99, count, copy = during_copy(model, 5 * 10**10 + n * 10**8)
                rss = [rss_mb(pid) for pid in workers_of(model.process.pid)]
                print(
                    f"| {model.name} | {p50:.1f} / {p99:.1f} | {count} | {copy:.2f} | "
                    f"{' '.join(f'{m:.0f}' for m in rss)} |",
                    flush=True,
                )
            print(f"\nload average at the end: {load()}", flush=True)
        finally:
            for model in models:
                if model.process is not None:
                    bench.stop(model.process, model.log)


def ceiling(points: list[Point]) -> str:
    if not any(p.mariadb for p in points):  # SQLite: no database server to bound the rate
        return "—"
    return f"{statistics.median(p.ceiling for p in points):,.0f}"


def table(models: list[Model], backend: str) -> str:
    base_rate = statistics.median(p.rate for p in models[0].points[64])
    lines = [
        f"update_did on {backend}, median of the rounds (min–max of the server's CPU); "
        "CPU ms per request of each party; the ceiling is the requests/s the cores allow "
        "if the server cost nothing",
        "",
        "| model | conns | req/s | × base | p50 ms | p99 ms | p99 ÷ PHP's | "
        "server CPU | MariaDB CPU | wrk CPU | ceiling req/s | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in models:
        for connections, points in sorted(model.points.items()):
            rate = statistics.median(p.rate for p in points)
            p99 = statistics.median(p.p99 for p in points)
            cpus = [p.server for p in points]
            versus = f"{rate / base_rate:.2f}" if connections == 64 else ""
            lines.append(
                f"| {model.name} | {connections} | {rate:,.0f} | {versus} | "
                f"{statistics.median(p.p50 for p in points):.1f} | {p99:.1f} | "
                f"{p99 / PHP_P99[connections]:.2f} | "
                f"{statistics.median(cpus):.3f} ({min(cpus):.3f}–{max(cpus):.3f}) | "
                f"{statistics.median(p.mariadb for p in points):.3f} | "
                f"{statistics.median(p.wrk for p in points):.3f} | "
                f"{ceiling(points)} | "
                f"{sum(p.errors for p in points)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""vicidid's benchmark: one command, bounded in time, loopback only, a table at the end.

    bench/run.sh            # installs wrk if missing, then runs this (about 15 minutes)
    bench/run.sh --quick    # shorter runs (about 6 minutes)

For each backend (SQLite file, local MariaDB with vicidid's InnoDB tables, and `myisam`:
local MariaDB with VICIdial's own schema, MyISAM tables in a latin1 database as
tests/fixtures/vicidial_schema.sql defines them) and each worker count (1 and --workers), it
starts `vicidid serve` on 127.0.0.1 with the demo data (bcrypt-hashed passwords, cost 10),
and measures with wrk at 1, 16 and 64 connections: update_did (rotating over 200 DIDs,
alternating the description so every request really writes), a failing login, did_info;
copy_did of 1, 100 and 150 new DIDs per call (150: the vicidial dialect's most); and,
with a Python client, copy_did of 1,000 (at 1, 16 and 64 connections) and of 10,000 (one
call). An error is a wrong answer, a non-2xx status, a socket error or an answer slower
than 10 s. In the same run it measures two references: a hello-world endpoint on the same
stack and server settings (bench/hello.py), and the statements of one update_did run
directly in a loop with the same driver (bench/direct.py). Results go to stdout and
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench import direct
from vicidid.auth.passhash import random_pass_key
from vicidid.cli import demo
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store.db import make_engine, mysql_url
from vicidid.store.schema import NEW_DB_COST

HERE = Path(__file__).parent
VICIDIAL_SCHEMA = HERE.parent / "tests" / "fixtures" / "vicidial_schema.sql"
OUT = HERE / "out"
API = "/vicidial/non_agent_api.php"
MYSQL = "mysql://root@127.0.0.1:3306/"
# Each run drops and recreates its databases: a second checkout benchmarking on the same
# MariaDB at the same time sets VICIDID_BENCH_NAME so that the two do not meet.
NAME = os.environ.get("VICIDID_BENCH_NAME", "vicidid_bench")
BACKENDS = {
    "sqlite": f"sqlite:///{OUT / (NAME + '.db')}",
    "mariadb": MYSQL + NAME,
    "myisam": MYSQL + NAME + "_myisam",
}
DIDS = [str(17000000000 + n) for n in range(200)]
CONNECTIONS = (1, 16, 64)

LUA = {
    "update_did": """
counter = 0
bad = 0
request = function()
  counter = counter + 1
  local did = 17000000000 + ((counter * 7 + math.random(0, 199)) % 200)
  local text = (counter % 2 == 0) and "Bench+line+one" or "Bench+line+two"
  return wrk.format("GET", "{api}?function=update_did&user=admin&pass=1234&source=bench"
    .. "&did_pattern=" .. did .. "&did_description=" .. text)
end
""",
    # A user nobody has: it costs the same bcrypt as a wrong password (a dummy hash at the
    # system's cost) and no account locks, so every answer is the same refusal.
    "bad_login": """
bad = 0
request = function()
  return wrk.format("GET", "{api}?function=update_did&user=nobody&pass=wrong&source=bench"
    .. "&did_pattern=17000000001&did_active=Y")
end
""",
    "did_info": """
counter = 0
bad = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "{api}?function=did_info&user=admin&pass=1234&source=bench"
    .. "&did_pattern=" .. (17000000000 + counter % 200))
end
""",
    "hello": """
bad = 0
request = function() return wrk.format("GET", "{api}") end
""",
    # Every request copies onto {size} DIDs no request made before: each wrk thread counts
    # its own calls, from its own block of numbers.
    "copy_did": """
counter = 0
bad = 0
id = 0
request = function()
  local start = {first} + (id * 100000 + counter) * {size}
  counter = counter + 1
  local dids = {{}}
  for i = 0, {size} - 1 do dids[#dids + 1] = string.format("%.0f", start + i) end
  return wrk.format("POST", "{api}",
    {{["Content-Type"] = "application/x-www-form-urlencoded"}},
    "function=copy_did&user=admin&pass=1234&source=bench&did_pattern=18001234567"
    .. "&new_dids=" .. table.concat(dids, "%2C"))
end
""",
}
EXPECT = {
    "update_did": "SUCCESS",
    "bad_login": "ERROR: INVALID USERNAME",
    "did_info": "did_id|",
    "hello": "SUCCESS",
    "copy_did": "SUCCESS: 18001234567 -> ",
}
# Counting answers that are not what the case expects (or hold an error on a later
# line, as a copy onto many DIDs would), across wrk's threads.
LUA_CHECK = """
threads = {{}}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("id", #threads - 1)
end
response = function(status, headers, body)
  if string.sub(body, 1, {n}) ~= "{prefix}" or string.find(body, "\\nERROR", 1, true) then
    bad = bad + 1
  end
end
done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write("WRONG_BODIES " .. total .. "\\n")
end
"""


@dataclass
class Row:
    backend: str
    workers: int
    case: str
    connections: int
    rate: float
    p50: float
    p99: float
    errors: int
    unit: str = "req/s"
    hello: float | None = None
    direct: float | None = None
    worker_cpu: float | None = None  # ms of the server's processes' CPU per request
    db_cpu: float | None = None  # ms of MariaDB's CPU per request


def fresh_databases(choice: str, label: str) -> Iterator[tuple[str, str]]:
    """(backend, URL) of an empty database for each backend `choice` names ("sqlite",
    "mariadb" or "both"): a new SQLite file, a new MariaDB database dropped afterwards."""
    if choice in ("sqlite", "both"):
        path = OUT / f"{NAME}_{label}.db"
        for suffix in ("", "-wal", "-shm", "-vicidid-lock"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        yield "sqlite", f"sqlite:///{path}"
    if choice in ("mariadb", "both"):
        name = f"{NAME}_{label}_{uuid.uuid4().hex[:8]}"
        root = sa.create_engine(mysql_url(MYSQL))
        with root.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        try:
            yield (
                "mariadb",
                mysql_url(MYSQL).set(database=name).render_as_string(hide_password=False),
            )
        finally:
            with root.begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            root.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def start(args: list[str], ready_path: str, env: dict | None = None):
    port = free_port()
    log = (OUT / f"server-{port}.log").open("w")
    process = subprocess.Popen(
        [*args, "--port", str(port)], stdout=log, stderr=log, env={**os.environ, **(env or {})}
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + ready_path, process)
    SERVERS[url] = process.pid
    return url, process, log


def stop(process: subprocess.Popen, log) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(
    url: str, case: str, connections: int, seconds: float, **script: object
) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms and wrong answers of `case` (LUA) under wrk."""
    # The requests queued when the last case's wrk stopped are served first: one request
    # of our own waits them out, so that they are not counted against this case.
    httpx.get(f"{url}{API}?function=version", timeout=120)
    path = OUT / f"{case}.lua"
    prefix = EXPECT[case]
    path.write_text(
        LUA[case].format(api=API, **script) + LUA_CHECK.format(n=len(prefix), prefix=prefix)
    )
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            # a slow answer is not a wrong one: only one slower than this counts as an error
            "--timeout",
            "10s",
            "-s",
            str(path),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"wrk did not run: {out or '(no output)'}")
    rate = float(found.group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = int(re.search(r"WRONG_BODIES (\d+)", out).group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), "
        r"timeout (\d+)",
        out,
    )
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return rate, p50, p99, errors


def measure(
    url: str,
    backend: str,
    workers: int,
    case: str,
    connections: int,
    seconds: float,
    hello_rate: dict,
    direct_rate: dict,
) -> Row:
    server = SERVERS[url]
    before = cpu_seconds(server), cpu_seconds(mariadb_pid())
    rate, p50, p99, errors = wrk(url, case, connections, seconds)
    after = cpu_seconds(server), cpu_seconds(mariadb_pid())
    served = rate * seconds  # wrk's own count of the requests in its timed window
    worker_cpu, db_cpu = ((a - b) * 1000 / served for a, b in zip(after, before, strict=True))
    versus = direct_rate[1 if connections == 1 else 8] if case == "update_did" else None
    return Row(
        backend,
        workers,
        case,
        connections,
        rate,
        p50,
        p99,
        errors,
        hello=rate / hello_rate[connections],
        direct=rate / versus if versus else None,
        worker_cpu=worker_cpu,
        db_cpu=None if backend == "sqlite" else db_cpu,
    )


SERVERS: dict[str, int] = {}  # a served URL's process id


def cpu_seconds(pid: int | None) -> float:
    """CPU (user + system) of a process and its live child processes, in seconds."""
    if pid is None:
        return 0.0
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(cpu_seconds(int(child)) for child in children)


@functools.cache
def mariadb_pid() -> int | None:
    found = subprocess.run(["pidof", "mariadbd"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def copies(url: str, size: int, connections: int, calls: int, first: int) -> Row:
    """copy_did calls of `size` new DIDs each, `connections` at a time."""

    local = threading.local()
    # without TCP_NODELAY, a POST's body waits on the server's delayed ACK (~40 ms)
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

    def one(n: int) -> tuple[float, bool]:
        start = first + n * size
        new = ",".join(str(start + i) for i in range(size))
        if not hasattr(local, "client"):  # one keep-alive connection per client thread
            transport = httpx.HTTPTransport(socket_options=nodelay)
            local.client = httpx.Client(timeout=300, transport=transport)
        t0 = time.perf_counter()
        r = local.client.post(
            url + API,
            data={
                "function": "copy_did",
                "user": "admin",
                "pass": "1234",
                "source": "bench",
                "did_pattern": "18001234567",
                "new_dids": new,
            },
            timeout=300,
        )
        ok = r.status_code == 200 and r.text.splitlines()[-1].startswith("SUCCESS")
        return time.perf_counter() - t0, ok

    t0 = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(one, range(calls)))
    elapsed = time.perf_counter() - t0
    times = sorted(t for t, _ in results)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return Row(
        "",
        0,
        f"copy_did x{size}",
        connections,
        calls * size / elapsed,
        statistics.median(times) * 1000,
        p99 * 1000,
        sum(1 for _, ok in results if not ok),
        unit="DIDs/s",
    )


def run_sql_file(conn: sa.Connection, path: Path) -> None:
    for statement in path.read_text().split(";\n"):
        lines = [line for line in statement.splitlines() if line.strip()]
        if lines and not all(line.startswith("--") for line in lines):
            conn.exec_driver_sql(statement)


def prepare(backend: str) -> str:
    """A fresh database of the backend with the demo data and 200 DIDs; its URL."""
    url = BACKENDS[backend]
    if backend == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        name = make_url(url).database
        # VICIdial's installer leaves a latin1 database; vicidid creates utf8mb4 ones
        charset = "latin1" if backend == "myisam" else "utf8mb4"
        root = sa.create_engine(mysql_url(MYSQL))
        with root.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET {charset}")
        root.dispose()
    if backend == "myisam":  # VICIdial's tables, and the demo's users, in-group and DID
        engine = sa.create_engine(mysql_url(url))
        with engine.begin() as conn:
            run_sql_file(conn, VICIDIAL_SCHEMA)
            # the demo's users (VICIdial's own 6666 makes way), with hashed passwords at the
            # demo's cost, as `init-db --demo` sets them up
            conn.execute(
                sa.text("DELETE FROM vicidial_users WHERE user IN :users").bindparams(
                    sa.bindparam("users", expanding=True)
                ),
                {"users": [user for user, _, _ in demo.USERS]},
            )
            conn.execute(
                sa.text(
                    "UPDATE system_settings SET pass_hash_enabled=:on, pass_cost=:c, pass_key=:k"
                ),
                {"on": "1", "c": NEW_DB_COST, "k": random_pass_key()},
            )
        engine.dispose()
        engine = make_engine(url)
        demo.load(engine)
        engine.dispose()
    else:
        subprocess.run(
            [sys.executable, "-m", "vicidid", "--db", url, "init-db", "--demo"],
            check=True,
            capture_output=True,
        )
    engine = make_engine(url)
    reply = Pipeline(engine, POLICIES["simple"]).handle(
        Incoming(
            form=[
                ("function", "copy_did"),
                ("user", "admin"),
                ("pass", "1234"),
                ("source", "bench"),
                ("did_pattern", "18001234567"),
                ("new_dids", ",".join(DIDS)),
            ]
        )
    )
    assert reply.outcomes[-1].counts.added == len(DIDS), reply.kinds
    engine.dispose()
    return url


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        )
    maria = subprocess.run(["mariadb", "--version"], capture_output=True, text=True).stdout
    maria = re.search(r"Distrib ([\w.\-]+)", maria)
    return (
        f"{dt.date.today()} · {cpu} · {os.cpu_count()} cores · Python "
        f"{platform.python_version()} · MariaDB {maria.group(1) if maria else '?'} · "
        f"MariaDB driver {mysql_url(MYSQL).get_driver_name()} · wrk -t2 · "
        "bcrypt cost 10 (verified once per user per process)"
    )


def run(args) -> list[Row]:
    OUT.mkdir(exist_ok=True)
    seconds = 3 if args.quick else 8
    rows: list[Row] = []
    for backend in args.backends.split(","):
        for workers in sorted({1, args.workers}):
            url = prepare(backend)
            hello_url, hello, hello_log = start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.hello:app",
                    "--host",
                    "127.0.0.1",
                    "--workers",
                    str(workers),
                    "--no-access-log",
                    "--http",
                    "httptools",
                    "--loop",
                    "uvloop",
                    "--log-level",
                    "warning",
                ],
                API,
            )
            hello_rate = {c: wrk(hello_url, "hello", c, seconds)[0] for c in CONNECTIONS}
            stop(hello, hello_log)
            direct_rate = {
                1: direct.measure(url, DIDS, 1, seconds),
                8: direct.measure(url, DIDS, 8 * workers, seconds),
            }
            server_url, server, log = start(
                # the throttle off: the bad_login case measures the hashing, not the refusal
                [
                    sys.executable,
                    "-m",
                    "vicidid",
                    "--db",
                    url,
                    "serve",
                    "--workers",
                    str(workers),
                    "--no-login-throttle",
                ],
                "/healthz",
            )

            point = functools.partial(
                measure,
                server_url,
                backend,
                workers,
                seconds=seconds,
                hello_rate=hello_rate,
                direct_rate=direct_rate,
            )
            try:
                for case in ("update_did", "did_info"):
                    for c in CONNECTIONS:
                        rows.append(point(case, c))
                # copies of 1, 100 and 150 DIDs under wrk, of 1,000 (a dozen calls) from
                # Python; each (size, connections) takes new DIDs from its own block of numbers
                for n, size in enumerate((1, 100, 150)):
                    for m, c in enumerate(CONNECTIONS):
                        first = 2 * 10**10 + n * 10**9 + m * 10**8
                        rate, p50, p99, errors = wrk(
                            server_url, "copy_did", c, seconds, size=size, first=first
                        )
                        rows.append(
                            Row(
                                backend,
                                workers,
                                f"copy_did x{size}",
                                c,
                                rate * size,
                                p50,
                                p99,
                                errors,
                                unit="DIDs/s",
                            )
                        )
                first = 3 * 10**10
                for c in CONNECTIONS:
                    row = copies(server_url, 1000, c, 12 if not args.quick else 4, first)
                    first += 12 * 1000
                    row.backend, row.workers = backend, workers
                    rows.append(row)
                # the largest copy a call may ask for (up to 10,000 new DIDs)
                row = copies(server_url, 10_000, 1, 1, first)
                row.backend, row.workers = backend, workers
                rows.append(row)
                # failing logins last: each costs a bcrypt, and the backlog of them left
                # when wrk stops would slow whatever ran next
                for c in CONNECTIONS:
                    rows.append(point("bad_login", c))
            finally:
                stop(server, log)
            rows.append(
                Row(backend, workers, "hello-world (reference)", 64, hello_rate[64], 0, 0, 0)
            )
            rows.append(
                Row(backend, workers, "direct DB, 1 thread (reference)", 1, direct_rate[1], 0, 0, 0)
            )
            rows.append(
                Row(
                    backend,
                    workers,
                    f"direct DB, {8 * workers} threads (reference)",
                    8 * workers,
                    direct_rate[8],
                    0,
                    0,
                    0,
                )
            )
            print(
                table([r for r in rows if r.backend == backend and r.workers == workers]),
                flush=True,
            )
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| backend | workers | case | conns | rate | p50 ms | p99 ms | errors | "
        "× hello | × direct DB | server CPU ms/req | MariaDB CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r.hello:.1%}" if r.hello is not None else ""
        versus = f"{r.direct:.2f}" if r.direct is not None else ""
        worker = f"{r.worker_cpu:.2f}" if r.worker_cpu is not None else ""
        db = f"{r.db_cpu:.2f}" if r.db_cpu is not None else ""
        lines.append(
            f"| {r.backend} | {r.workers} | {r.case} | {r.connections} | "
            f"{r.rate:,.0f} {r.unit} | {r.p50:.1f} | {r.p99:.1f} | {r.errors} | "
            f"{ratio} | {versus} | {worker} | {db} |"
        )
    return "\n".join(lines)


def write_results(rows: list[Row]) -> None:
    path = HERE / "RESULTS.md"
    marker = "<!-- results: written by bench/run.py -->"
    head = path.read_text().split(marker)[0] if path.exists() else "# Benchmark results\n\n"
    path.write_text(f"{head}{marker}\n\n{machine()}\n\n{table(rows)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args()
    print(machine(), flush=True)
    rows = run(args)
    write_results(rows)
    print(f"\nwritten to {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()

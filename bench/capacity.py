"""A capacity model: the CPU one request costs MariaDB and vicidid, by function and schema.

    python -m bench.capacity [--requests 600] [--clients 8]

It starts its own MariaDB primary and replica (bench/cluster.py, `--userstat=1`) and one
vicidid server, which connects as a user of its own, so that
information_schema.USER_STATISTICS counts that user's CPU_TIME alone (FLUSH
USER_STATISTICS before each function). vicidid's CPU is its process's user+system time
(/proc) over the same requests. For each schema (VICIdial's MyISAM, vicidid's InnoDB) and
function, alternated in one run, it prints CPU milliseconds per request on each side and
their ratio: how many vicidid cores one database core feeds; and did_info and did_list
once more from a server with --read-url, to show what the replica takes off the primary.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import cluster
from vicidid import API_PATH
from vicidid.cli import admin, demo
from vicidid.store.db import make_engine

FUNCTIONS = ("did_info", "did_list", "update_did", "copy_did", "add_did")
TICKS = os.sysconf("SC_CLK_TCK")
REPLICA = "innodb, --read-url"


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def query(function: str, n: int, c: int) -> str:
    base = f"{API_PATH}?user=bench&pass=bench1234&source=capacity&function={function}"
    did = f"8{c:02d}{n:07d}"
    if function == "did_info":
        return base + "&did_pattern=18001234567"
    if function == "did_list":
        return base + "&limit=20"
    if function == "update_did":
        return base + f"&did_pattern=18001234567&did_description=line{n % 2}x{c}"
    if function == "copy_did":
        return base + f"&did_pattern=18001234567&new_did_pattern={did}"
    return base + f"&did_pattern={did}"


def drive(url: str, function: str, requests: int, clients: int, round_: int) -> int:
    """`requests` requests from `clients` threads; the count of answers not successes."""
    failed = [0]
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(timeout=30) as http:
            for n in range(c, requests, clients):
                answer = http.get(url + query(function, n + round_ * requests, c))
                if answer.status_code != 200 or answer.text.startswith("ERROR"):
                    with lock:
                        failed[0] += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed[0]


def measure(
    dbs: cluster.Databases, server: cluster.Server, function: str, requests: int, clients: int
) -> dict[str, float]:
    assert server.proc is not None and dbs.primary.proc is not None
    dbs.primary.sql("FLUSH USER_STATISTICS")
    before = process_cpu(server.proc.pid), process_cpu(dbs.primary.proc.pid)
    started = time.perf_counter()
    failed = drive(server.url, function, requests, clients, int(started) % 1000)
    seconds = time.perf_counter() - started
    after = process_cpu(server.proc.pid), process_cpu(dbs.primary.proc.pid)
    stat = dbs.primary.sql(
        "SELECT CPU_TIME FROM information_schema.USER_STATISTICS WHERE USER = 'bench'"
    )
    return {
        "rps": requests / seconds,
        "failed": failed,
        "vicidid_ms": (after[0] - before[0]) * 1000 / requests,
        "db_ms": float(stat or 0) * 1000 / requests,
        "mariadbd_ms": (after[1] - before[1]) * 1000 / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="vicidid-capacity-"))
    dbs = cluster.Databases.at(base)
    servers: dict[str, cluster.Server] = {}
    try:
        dbs.up()
        for schema in cluster.SCHEMAS:
            name = f"capacity_{schema}"
            dbs.create(schema, name)
            dbs.primary.sql(  # replicated: the same user reads the replica
                "CREATE USER IF NOT EXISTS bench@'127.0.0.1';"
                f"GRANT ALL ON `{name}`.* TO bench@'127.0.0.1';"
                "GRANT REPLICA MONITOR ON *.* TO bench@'127.0.0.1';"
            )
            engine = make_engine(dbs.primary.url(name))
            with engine.begin() as conn:
                admin.add_user(conn, "bench", "bench1234", demo.ADMIN_FLAGS)
            engine.dispose()
            url = f"mysql://bench@127.0.0.1:{dbs.primary.port}/{name}"
            server = cluster.Server(schema, cluster.free_port(), url, base / f"{schema}.log")
            server.start()
            servers[schema] = server
        # did_info and did_list once more, their reads on the replica (--read-url)
        url = f"mysql://bench@127.0.0.1:{dbs.primary.port}/capacity_innodb"
        read_url = f"mysql://bench@127.0.0.1:{dbs.replica.port}/capacity_innodb"
        log = base / "replica.log"
        server = cluster.Server(REPLICA, cluster.free_port(), url, log, ["--read-url", read_url])
        server.start()
        servers[REPLICA] = server
        dbs.caught_up()
        rows: dict[tuple[str, str], list[dict[str, float]]] = {}
        for _ in range(args.rounds):  # the schemas alternated, function by function
            for function in FUNCTIONS:
                for schema, server in servers.items():
                    if schema == REPLICA and function not in ("did_info", "did_list"):
                        continue
                    result = measure(dbs, server, function, args.requests, args.clients)
                    rows.setdefault((schema, function), []).append(result)
        print_table(rows, args)
    finally:
        for server in servers.values():
            server.stop()
        dbs.down()


def print_table(rows: dict[tuple[str, str], list[dict[str, float]]], args) -> None:
    print(
        f"\n{args.requests} requests per function and round, {args.clients} clients, "
        f"{args.rounds} rounds (medians of rounds)\n"
    )
    print(
        "| schema | function | req/s | vicidid CPU ms/req | MariaDB CPU ms/req "
        "(USER_STATISTICS) | mariadbd process CPU ms/req | vicidid cores per DB core | failed |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (schema, function), results in rows.items():

        def mid(key: str, results=results) -> float:
            values = sorted(r[key] for r in results)
            return values[len(values) // 2]

        db = mid("db_ms")
        ratio = mid("vicidid_ms") / db if db else float("inf")
        print(
            f"| {schema} | {function} | {mid('rps'):.0f} | {mid('vicidid_ms'):.2f} | "
            f"{db:.2f} | {mid('mariadbd_ms'):.2f} | {ratio:.1f} | "
            f"{sum(r['failed'] for r in results):.0f} |"
        )


if __name__ == "__main__":
    main()

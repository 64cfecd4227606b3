"""A legitimate update_did while wrong passwords flood the server: does it wait for them?

    .venv/bin/python -m bench.flood                 # SQLite and MariaDB, about 2 minutes
    .venv/bin/python -m bench.flood --code OLD_TREE # the same against another source tree

For each backend it starts `vicidid serve` (one worker, the login throttle OFF, so that
the result stands on its own) on 127.0.0.1 with the demo data (bcrypt-hashed passwords,
cost 10) and 100 more users. One client sends update_did as `admin` (its password is
verified once, then remembered), one request at a time: first on a quiet server, then
while 16 connections send wrong passwords as fast as they are answered, rotating over the
100 users (each locks after ten failures, and a locked account is answered without a
check: 100 users keep the flood hashing for the whole run). It prints the legitimate
request's p50 and p90, quiet and flooded, and the flood's rate. Target: the flooded p50
within 2x of the quiet one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

import httpx

from bench.run import OUT, fresh_databases, start, stop
from vicidid.store.db import make_engine
from vicidid.store.tables import users

API = "/vicidial/non_agent_api.php"
MYSQL = "mysql://root@127.0.0.1:3306/"
FLOOD_USERS = [f"flood{n:03d}" for n in range(100)]
FLOOD_CONNECTIONS = 16


def prepare(url: str) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "vicidid", "--db", url, "init-db", "--demo"],
        check=True,
        capture_output=True,
    )
    engine = make_engine(url)
    with engine.begin() as conn:
        # any 31 characters: a wrong password costs the full hash before it is refused
        conn.execute(
            users.insert(),
            [
                {"user": u, "full_name": u, "user_level": 9, "user_group": "ADMIN",
                 "active": "Y", "pass": "", "pass_hash": "x" * 31}
                for u in FLOOD_USERS
            ],
        )  # fmt: skip
    engine.dispose()


def legitimate(base: str, count: int) -> list[float]:
    """Latencies of `count` update_did calls, one at a time, each really writing."""
    times = []
    with httpx.Client(base_url=base, auth=("admin", "1234"), timeout=60) as client:
        for n in range(count):
            started = time.perf_counter()
            r = client.get(
                API,
                params={
                    "function": "update_did",
                    "source": "bench",
                    "did_pattern": "18001234567",
                    "did_description": f"Flood bench {n % 2}",
                },
            )
            times.append(time.perf_counter() - started)
            assert r.text.startswith("SUCCESS"), r.text
    return times


class Flood:
    """16 connections of wrong passwords, as fast as they are answered."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self.sent = 0
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(n,)) for n in range(FLOOD_CONNECTIONS)
        ]

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.base, timeout=120) as client:
            i = n
            while not self.stop.is_set():
                user = FLOOD_USERS[i % len(FLOOD_USERS)]
                i += FLOOD_CONNECTIONS
                r = client.get(
                    API,
                    params={"function": "update_did", "user": user, "pass": "wrong",
                            "source": "flood", "did_pattern": "18001234567"},
                )  # fmt: skip
                assert "SUCCESS" not in r.text
                with self.lock:
                    self.sent += 1

    def __enter__(self) -> Flood:
        for thread in self.threads:
            thread.start()
        time.sleep(2)  # let it reach full speed
        self.started, self.sent_at_start = time.perf_counter(), self.sent
        return self

    def __exit__(self, *exc) -> None:
        self.rate = (self.sent - self.sent_at_start) / (time.perf_counter() - self.started)
        self.stop.set()
        for thread in self.threads:
            thread.join()


def one_backend(name: str, url: str, count: int, code: str | None) -> dict:
    prepare(url)
    if code is None:
        args = [sys.executable, "-m", "vicidid", "--db", url, "serve", "--no-login-throttle"]
    else:  # another tree's vicidid, ahead of the one installed
        boot = f"import sys; sys.path.insert(0, {code!r}); from vicidid.cli import main; main()"
        args = [sys.executable, "-c", boot, "--db", url, "serve"]
    base, process, log = start(args, "/healthz")
    try:
        legitimate(base, 5)  # warm up: the admin's password is verified once
        quiet = legitimate(base, count)
        with Flood(base) as flood:
            flooded = legitimate(base, count)
    finally:
        stop(process, log)
    return {
        "backend": name,
        "quiet": quiet,
        "flooded": flooded,
        "rate": flood.rate,
    }


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def table(rows: list[dict]) -> str:
    lines = [
        "| backend | quiet p50 ms | quiet p90 ms | flooded p50 ms | flooded p90 ms "
        "| flooded/quiet p50 | bad logins/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        q50, f50 = statistics.median(r["quiet"]) * 1000, statistics.median(r["flooded"]) * 1000
        lines.append(
            f"| {r['backend']} | {q50:.1f} | {p(r['quiet'], 0.9):.1f} | {f50:.1f} "
            f"| {p(r['flooded'], 0.9):.1f} | {f50 / q50:.1f}x | {r['rate']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="legitimate calls per phase")
    parser.add_argument("--code", help="serve from this source tree instead (a comparison)")
    parser.add_argument("--backend", choices=["sqlite", "mariadb", "both"], default="both")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rows = []
    for backend, url in fresh_databases(args.backend, "flood"):
        rows.append(one_backend(backend, url, args.count, args.code))
    print(table(rows))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""Soak under failure: many clients against a real server while MariaDB connections die.

    .venv/bin/python -m bench.soak                     # 64 clients x 60 s, both engines
    .venv/bin/python -m bench.soak --clients 32 --seconds 20 --engines myisam

For each engine — VICIdial's own MyISAM schema (tests/fixtures/vicidial_schema.sql with the
sample data) and vicidid's InnoDB demo — it creates a fresh MariaDB database, starts
`vicidid serve --workers 2` on 127.0.0.1, and runs N clients doing a mix of update_did,
copy_did (each onto a DID no one else touches), add_did (likewise) and did_info, with
format=json. Meanwhile a killer runs `KILL CONNECTION` on a random connection of that
database now and then. Then it reconciles what the clients were told with what the
database holds, and prints a table:

- no copy or add answered "already exists" for its own new DID (a request run twice);
- every DID a client was told was added is there;
- audit rows (admin_log MODIFY/COPY/ADD) per function between the successful answers and
  the successful answers plus those that said "may be partly applied";
- on InnoDB, every added DID has its audit row.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.run import free_port, run_sql_file, stop, wait_ready
from vicidid.store.db import mysql_url

ROOT = Path(__file__).parent.parent
OUT = Path(__file__).parent / "out"
MYSQL = "mysql://root@127.0.0.1:3306/"
API = "/vicidial/non_agent_api.php"
SOURCE_DID = "18001234567"
LOGIN = {"user": "6666", "pass": "1234", "source": "soak"}
AUDIT_EVENTS = {"update_did": "MODIFY", "copy_did": "COPY", "add_did": "ADD"}


class Killer:
    """Kills connections to one database (and no other) from a connection of its own."""

    def __init__(self, root_url: str | sa.engine.URL, db: str) -> None:
        self.db = db
        self.root = sa.create_engine(root_url, pool_size=1)
        self.conn = self.root.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.own = self.conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()
        self.kills = 0

    def ids(self) -> list[int]:
        rows = self.conn.execute(
            sa.text("SELECT id FROM information_schema.processlist WHERE db = :db AND id <> :own"),
            {"db": self.db, "own": self.own},
        )
        return [int(r[0]) for r in rows]

    def kill(self, thread_id: int) -> None:
        if thread_id not in self.ids():
            return  # only connections of this database
        try:
            self.conn.execute(sa.text(f"KILL CONNECTION {int(thread_id)}"))
            self.kills += 1
        except sa.exc.DBAPIError:
            return  # it ended by itself meanwhile
        deadline = time.monotonic() + 5
        while thread_id in self.ids() and time.monotonic() < deadline:
            time.sleep(0.005)

    def kill_now_and_then(self, stop_at: float, low: float, high: float, seed: int = 7) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            time.sleep(rng.uniform(low, high))
            ids = self.ids()
            if ids:
                self.kill(rng.choice(ids))

    def close(self) -> None:
        self.conn.close()
        self.root.dispose()


Answer = tuple[str, str, int, dict]  # (function, DID, HTTP status, JSON body)


def reconcile(engine: sa.engine.Engine, answers: list[Answer]) -> dict:
    """Compare what the clients were told with what the database holds."""
    changing = [a for a in answers if a[0] in AUDIT_EVENTS]
    kinds = Counter(body.get("kind", "?") for _, _, _, body in changing)
    ok = Counter(f for f, _, status, _ in changing if status == 200)
    partly = Counter(f for f, _, _, body in changing if body.get("kind") == "partly_applied")
    with engine.connect() as conn:
        audit = dict(
            conn.execute(
                sa.text(
                    "SELECT event_type, COUNT(*) FROM vicidial_admin_log "
                    "WHERE event_section='DIDS' GROUP BY event_type"
                )
            ).all()
        )
        dids = set(
            conn.execute(
                sa.text("SELECT did_pattern FROM vicidial_inbound_dids WHERE did_pattern <> :s"),
                {"s": SOURCE_DID},
            ).scalars()
        )
        notes = conn.execute(
            sa.text(
                "SELECT event_type, event_notes FROM vicidial_admin_log "
                "WHERE event_type IN ('ADD', 'COPY')"
            )
        ).all()
    audited = set()
    for event, text in notes:
        if event == "ADD":
            audited.add(text.split(" ")[1])  # "did: PATTERN did_id: …"
        audited |= {line.split(" ")[0] for line in text.splitlines() if " ADDED" in line}
    told_added = {did for f, did, status, _ in changing if f != "update_did" and status == 200}
    return {
        "requests": len(answers),
        "kinds": dict(kinds),
        "statuses": dict(Counter(status for _, _, status, _ in answers)),
        # function: (successful answers, "may be partly applied" answers, audit rows)
        "per_function": {
            f: (ok[f], partly[f], audit.get(event, 0)) for f, event in AUDIT_EVENTS.items()
        },
        "own_insert_exists": kinds["copy_exists"] + kinds["did_exists"],
        "added_missing": len(told_added - dids),
        "dids_unaudited": len(dids - audited),
    }


def verdict(result: dict, innodb: bool) -> list[str]:
    """What does not reconcile, in words (empty when everything does)."""
    wrong = []
    if result["own_insert_exists"]:
        wrong.append(f"{result['own_insert_exists']} answered 'already exists' for their own DID")
    if result["added_missing"]:
        wrong.append(f"{result['added_missing']} DIDs answered as added are missing")
    if set(result["statuses"]) - {200, 503}:
        wrong.append(f"unexpected statuses {result['statuses']}")
    for f, (ok, partly, audit) in result["per_function"].items():
        if not ok <= audit <= ok + partly:
            wrong.append(f"{f}: {audit} audit rows for {ok} successes and {partly} partly applied")
    if innodb and result["dids_unaudited"]:
        wrong.append(f"{result['dids_unaudited']} DIDs without their audit row")
    return wrong


def create_database(engine_name: str) -> tuple[str, str]:
    """A fresh database with VICIdial's MyISAM schema or vicidid's InnoDB demo: (name, URL)."""
    name = f"vicidid_soak_{uuid.uuid4().hex[:8]}"
    root = sa.create_engine(mysql_url(MYSQL))
    charset = "latin1" if engine_name == "myisam" else "utf8mb4"
    with root.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET {charset}"))
    root.dispose()
    url = mysql_url(MYSQL).set(database=name).render_as_string(hide_password=False)
    if engine_name == "myisam":
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            run_sql_file(conn, ROOT / "tests" / "fixtures" / "vicidial_schema.sql")
            run_sql_file(conn, ROOT / "tests" / "data" / "vicidial_sample_data.sql")
        engine.dispose()
    else:
        subprocess.run(
            [sys.executable, "-m", "vicidid", "--db", url, "init-db", "--demo"],
            check=True,
            capture_output=True,
        )
    return name, url


def drop_database(name: str) -> None:
    root = sa.create_engine(mysql_url(MYSQL))
    with root.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    root.dispose()


def clients(base: str, count: int, stop_at: float) -> list[Answer]:
    """`count` clients, each on its own thread and keep-alive connection, until stop_at."""
    answers: list[Answer] = []

    def one(number: int) -> None:
        rng = random.Random(number)
        n = 0
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop_at:
                n += 1
                function = rng.choice(["update_did", "copy_did", "add_did", "did_info"])
                did = f"19{number:03d}{n:06d}"
                params = {"function": function, "format": "json", **LOGIN}
                if function == "update_did":
                    params |= {"did_pattern": SOURCE_DID, "did_description": f"Soak {number} {n}"}
                elif function == "copy_did":
                    params |= {"source_did_pattern": SOURCE_DID, "new_dids": did}
                elif function == "add_did":
                    params |= {"did_pattern": did, "did_description": f"Soak {number} {n}"}
                else:
                    params |= {"did_pattern": SOURCE_DID}
                try:
                    r = http.get(base + API, params=params)
                    body = r.json()
                except (httpx.HTTPError, ValueError) as error:
                    answers.append((function, did, 0, {"kind": type(error).__name__}))
                    continue
                answers.append((function, did, r.status_code, body))

    with ThreadPoolExecutor(count) as pool:
        for future in [pool.submit(one, n) for n in range(count)]:
            future.result()
    return answers


def soak(engine_name: str, args: argparse.Namespace) -> dict:
    name, url = create_database(engine_name)
    OUT.mkdir(exist_ok=True)
    port = free_port()
    log = (OUT / f"soak-{engine_name}.log").open("w")
    command = [sys.executable, "-m", "vicidid", "--db", url, "serve"]
    server = subprocess.Popen(
        [*command, "--workers", str(args.workers), "--port", str(port)],
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    killer = Killer(mysql_url(MYSQL), name)
    try:
        wait_ready(base + "/healthz", server)
        stop_at = time.monotonic() + args.seconds
        murder = threading.Thread(
            target=killer.kill_now_and_then, args=(stop_at, args.kill_min, args.kill_max)
        )
        started = time.monotonic()
        murder.start()
        answers = clients(base, args.clients, stop_at)
        murder.join()
        elapsed = time.monotonic() - started
    finally:
        stop(server, log)
        killer.close()
    engine = sa.create_engine(url)
    result = reconcile(engine, answers)
    engine.dispose()
    drop_database(name)
    result |= {"engine": engine_name, "kills": killer.kills, "seconds": round(elapsed, 1)}
    result["wrong"] = verdict(result, innodb=engine_name == "innodb")
    return result


def table(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"{args.clients} clients x {args.seconds} s, `vicidid serve --workers {args.workers}`, "
        f"a connection killed every {args.kill_min}-{args.kill_max} s",
        "",
        "| engine | requests | kills | 503 partly applied | 503 unavailable | "
        "update ok / partly / MODIFY rows | copy ok / partly / COPY rows | "
        "add ok / partly / ADD rows | own insert 'exists' | added but missing | "
        "DIDs without audit row | reconciles |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [" / ".join(str(v) for v in r["per_function"][f]) for f in AUDIT_EVENTS]
        lines.append(
            f"| {r['engine']} | {r['requests']} | {r['kills']} | "
            f"{r['kinds'].get('partly_applied', 0)} | {r['kinds'].get('database_down', 0)} | "
            f"{' | '.join(cells)} | {r['own_insert_exists']} | {r['added_missing']} | "
            f"{r['dids_unaudited']} | {'yes' if not r['wrong'] else '; '.join(r['wrong'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="myisam,innodb")
    parser.add_argument("--kill-min", type=float, default=0.05, help="seconds between kills")
    parser.add_argument("--kill-max", type=float, default=0.5)
    args = parser.parse_args()
    results = [soak(e.strip(), args) for e in args.engines.split(",")]
    print(table(results, args))
    if any(r["wrong"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

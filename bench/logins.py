"""Unknown users cost what known users cost: a wrong password for each, alternated.

    .venv/bin/python -m bench.logins                   # about 2 minutes
    .venv/bin/python -m bench.logins --backend sqlite --plain 100 --hashed 30

For each backend (a fresh SQLite file, a fresh MariaDB database with vicidid's InnoDB
tables; the demo data from `vicidid init-db --demo`) and each dialect (`simple`,
`vicidial`) it starts `vicidid serve` (one worker, `--no-login-throttle`, so that no
attempt is refused) on 127.0.0.1 and sends update_did with a wrong password, one request
at a time on one keep-alive connection: for `admin` (known) and for `nobody` (unknown),
alternated request by request (the pair's order flips every pair). Before every request,
known or not, the bench sets admin's failed_login_count back to 0 with an UPDATE of its
own, so that the account never locks. Each runs twice, with plain passwords
(system_settings.pass_hash_enabled=0, admin's password in `pass`) and with bcrypt (the
demo's pass_hash_enabled=1, cost 10): the server reads the settings on every login, so
the switch needs no restart.

It prints, per backend, dialect and passwords, the median and p90 latency (client side,
over HTTP) of known and unknown, and how much slower an unknown user's answer is in
percent (negative: faster). Target: medians within 10%. It also says whether the two
answers had the same status and the same text but for the user name.

`--throttle`: the same with the login throttle on at its default (30/60), as deployed:
the server trusts X-Forwarded-For from 127.0.0.1 and every request carries another
address, so that the throttle refuses nothing but claims a window for each attempt.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from bench.run import OUT, fresh_databases, start, stop
from vicidid.store.db import make_engine

API = "/vicidial/non_agent_api.php"
KNOWN, UNKNOWN = "admin", "nobody"
DIALECTS = ("simple", "vicidial")
PASSWORDS = ("plain", "bcrypt")
# admin's failed logins back to 0 before every request: the account never locks
RESET = sa.text("UPDATE vicidial_users SET failed_login_count=0 WHERE user=:u")
SET_PASS = sa.text("UPDATE vicidial_users SET pass='1234' WHERE user=:u")  # the demo's
WARM_UP = 10  # pairs, not counted
ADDRESSES = itertools.count(1)  # with --throttle, each request from 10.x.y.z of its own


@dataclass
class Row:
    backend: str
    dialect: str
    passwords: str
    known: list[float]
    unknown: list[float]
    same_answer: bool


def prepare(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "vicidid", "--db", url, "init-db", "--demo"],
        check=True,
        capture_output=True,
    )


def set_passwords(engine: sa.Engine, kind: str) -> None:
    """Plain passwords (admin's in `pass`) or the demo's bcrypt, for every next login."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE system_settings SET pass_hash_enabled=:on"),
            {"on": "1" if kind == "bcrypt" else "0"},
        )
        if kind == "plain":
            conn.execute(SET_PASS, {"u": KNOWN})


def shape(text: str, user: str) -> str:
    """The answer with the user name taken out (the vicidial dialect shows it)."""
    return text.replace(f"|{user}|", "|USER|")


def pairs(
    base: str, engine: sa.Engine, count: int, rotate: bool = False
) -> tuple[list[float], list[float], bool]:
    """Latencies (s) of `count` wrong passwords each for KNOWN and UNKNOWN, alternated;
    `rotate`: each from another address (X-Forwarded-For)."""
    times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
    answers: dict[str, set[tuple[int, str]]] = {KNOWN: set(), UNKNOWN: set()}
    with engine.connect() as db, httpx.Client(base_url=base, timeout=60) as client:
        for n in range(WARM_UP + count):
            for user in (KNOWN, UNKNOWN) if n % 2 == 0 else (UNKNOWN, KNOWN):
                db.execute(RESET, {"u": KNOWN})
                db.commit()
                sent = next(ADDRESSES)
                headers = {
                    "X-Forwarded-For": f"10.{sent >> 16 & 255}.{sent >> 8 & 255}.{sent & 255}"
                }
                started = time.perf_counter()
                r = client.get(
                    API,
                    params={"function": "update_did", "user": user, "pass": "wrong",
                            "source": "bench", "did_pattern": "18001234567",
                            "did_description": "Logins bench"},
                    headers=headers if rotate else None,
                )  # fmt: skip
                elapsed = time.perf_counter() - started
                assert "SUCCESS" not in r.text, r.text
                answers[user].add((r.status_code, shape(r.text, user)))
                if n >= WARM_UP:
                    times[user].append(elapsed)
    same = answers[KNOWN] == answers[UNKNOWN] and len(answers[KNOWN]) == 1
    if not same:
        print(f"  answers differ: known {answers[KNOWN]} unknown {answers[UNKNOWN]}", flush=True)
    return times[KNOWN], times[UNKNOWN], same


def one_backend(backend: str, url: str, plain: int, hashed: int, throttle: bool) -> list[Row]:
    prepare(url)
    engine = make_engine(url)
    rows = []
    try:
        for dialect in DIALECTS:
            args = [sys.executable, "-m", "vicidid", "--db", url, "serve", "--dialect", dialect]
            if throttle:
                args += ["--trusted-proxy", "127.0.0.1"]
            else:
                args.append("--no-login-throttle")
            base, process, log = start(args, "/healthz")
            try:
                for kind in PASSWORDS:
                    set_passwords(engine, kind)
                    count = plain if kind == "plain" else hashed
                    known, unknown, same = pairs(base, engine, count, throttle)
                    row = Row(backend, dialect, kind, known, unknown, same)
                    print(table([row], head=False), flush=True)
                    rows.append(row)
            finally:
                stop(process, log)
    finally:
        engine.dispose()
    return rows


def p90(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def table(rows: list[Row], head: bool = True) -> str:
    lines = (
        [
            "| backend | dialect | passwords | n each | known p50 ms | known p90 ms "
            "| unknown p50 ms | unknown p90 ms | unknown vs known, p50 | same answer |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        if head
        else []
    )
    for r in rows:
        k50, u50 = statistics.median(r.known) * 1000, statistics.median(r.unknown) * 1000
        lines.append(
            f"| {r.backend} | {r.dialect} | {r.passwords} | {len(r.known)} | {k50:.2f} "
            f"| {p90(r.known) * 1000:.2f} | {u50:.2f} | {p90(r.unknown) * 1000:.2f} "
            f"| {(u50 - k50) / k50:+.1%} | {'yes' if r.same_answer else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "mariadb", "both"], default="both")
    parser.add_argument("--plain", type=int, default=400, help="pairs with plain passwords")
    parser.add_argument("--hashed", type=int, default=100, help="pairs with bcrypt")
    parser.add_argument("--throttle", action="store_true", help="the throttle on (30/60)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rows: list[Row] = []
    print(table([]), flush=True)
    for backend, url in fresh_databases(args.backend, "logins"):
        rows += one_backend(backend, url, args.plain, args.hashed, args.throttle)
    print()
    print(table(rows))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""A rightful user's first login while wrong passwords flood in from many addresses.

    .venv/bin/python -m bench.first_login                  # MariaDB, about 3.5 minutes
    .venv/bin/python -m bench.first_login --backend both   # and SQLite, about 7 minutes

On each backend (a fresh SQLite file, a fresh MariaDB database with vicidid's InnoDB
tables; the demo data from `vicidid init-db --demo`, bcrypt at its cost 10) it starts
`vicidid serve` (one worker, `--trusted-proxy 127.0.0.1`, the login throttle at its
default 30/60) on 127.0.0.1. Rotating addresses make the throttle refuse nothing (no
address sends twice), but it stays on as deployed: every guess still claims its address's
window in the database.

A first login is update_did by a user created beforehand (`vicidid user add`'s code, no
failed login) whose password this server process has never verified: it costs a bcrypt,
like a guess. They alternate between two kinds: a returning user, who last logged in (a
day ago) from the address it uses now, and a new one, who never logged in; the first go
to the front of the hashing (auth/hash_slots.py), the second wait with the flood. One at a
time, from an address of its own; answered busy (503), it waits the
Retry-After and tries again, as a client should, at most TRIES times in all; its time runs
from the first try to the SUCCESS, and one that never got in counts as endless in the
percentiles ("never"). Each phase runs on a server process of its own (nothing left queued
by the one before): `--quiet` first logins with no flood, then `--count` for each flood.

The flood is wrk (2 threads), every request with another X-Forwarded-For and a wrong
password, in two mixes:

- accounts: rotating over 200 accounts (they collect failed logins; an account locks
  after about 20 checked guesses, and a locked one is answered without a check),
- spray: each guess for an account nobody has guessed at yet (30,000 of them): every
  guess is for an account with no failed login, as the rightful user's is,

each at 64 connections and at 32 (the number of hashes that may wait in a queue is 64).

It prints p50 and p90 of the first login of each kind, quiet and flooded (target: a
returning user's flooded p50 ≤ 0.5 s), how many busy answers the first logins got and how
many never got in, and how the flood's requests were answered.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from bench.run import OUT, fresh_databases, start, stop
from vicidid.cli import admin
from vicidid.cli.demo import ADMIN_FLAGS
from vicidid.store.db import make_engine
from vicidid.store.tables import users

API = "/vicidial/non_agent_api.php"
ACCOUNTS = [f"flood{n:03d}" for n in range(200)]
SPRAY = 30_000  # accounts spray00000 … spray29999, a block of them for each spray
FLOODS = (("accounts", 64), ("spray", 64), ("accounts", 32), ("spray", 32))
TRIES = 5  # a first login's tries, busy answers included
PASSWORD = "first-login-5678"
ADDRESS = "192.0.2.10"  # the rightful user's, behind the same proxy
ANSWERS = {  # the simple dialect's words → the kind of answer
    "ERROR: INVALID USERNAME OR PASSWORD": "bad_login",
    "ERROR: TOO MANY FAILED LOGINS": "throttled",
    "ERROR: ACCOUNT LOCKED": "locked",
    "ERROR: SERVER BUSY": "busy",
}

# Each wrk thread counts its own requests; the address is 10.x.y.z from (thread, count),
# never the same twice. The answers are counted by kind, summed over the threads at the end.
LUA = """
counter = 0
id = 0
counts = {{}}
threads = {{}}
kinds = {{ {kinds} }}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("id", #threads - 1)
end
request = function()
  counter = counter + 1
  local n = id * 4000000 + counter
  local address = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
  local user = {user}
  return wrk.format("GET", "{api}?function=update_did&user=" .. user
    .. "&pass=wrong&source=flood&did_pattern=18001234567", {{["X-Forwarded-For"] = address}})
end
response = function(status, headers, body)
  local kind = "other"
  for prefix, name in pairs(kinds) do
    if string.sub(body, 1, #prefix) == prefix then kind = name end
  end
  counts[kind] = (counts[kind] or 0) + 1
end
done = function(summary, latency, requests)
  local total = {{}}
  for _, t in ipairs(threads) do
    for _, name in ipairs({{ "bad_login", "throttled", "locked", "busy", "other" }}) do
      local c = t:get("counts")[name] or 0
      total[name] = (total[name] or 0) + c
    end
  end
  for name, c in pairs(total) do io.write("ANSWER " .. name .. " " .. c .. "\\n") end
end
"""
USERS = {
    "accounts": 'string.format("flood%03d", (id * 7 + counter) % 200)',
    # each flood its own block of accounts; in it, thread 0 from the start, thread 1 from
    # the middle: no account is guessed twice
    "spray": 'string.format("spray%05d", {first} + (id * {half} + counter) % ({half} * 2))',
}


@dataclass
class Phase:
    backend: str
    flood: str
    times: list[float] = field(default_factory=list)  # a returning user's seconds to a SUCCESS
    new: list[float] = field(default_factory=list)  # a new user's
    busy: int = 0  # busy answers before it (each followed by the Retry-After wait)
    refused: int = 0  # first logins that never got in (another answer, or 20 busy)
    answers: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0  # flood requests answered per second


def prepare(url: str, legitimate: int) -> list[str]:
    """The demo data, the flood's accounts and `legitimate` fresh users; their names."""
    subprocess.run(
        [sys.executable, "-m", "vicidid", "--db", url, "init-db", "--demo"],
        check=True,
        capture_output=True,
    )
    engine = make_engine(url)
    names = [f"first{n:03d}" for n in range(legitimate)]
    with engine.begin() as conn:
        # any 31 characters: a guess costs a bcrypt at the system's cost, against a dummy
        flood = ACCOUNTS + [f"spray{n:05d}" for n in range(SPRAY)]
        for start_at in range(0, len(flood), 2000):
            conn.execute(
                users.insert(),
                [
                    {"user": u, "full_name": u, "user_level": 9, "user_group": "ADMIN",
                     "active": "Y", "pass": "", "pass_hash": "x" * 31}
                    for u in flood[start_at : start_at + 2000]
                ],
            )  # fmt: skip
        for name in names:  # as `vicidid user add` does: the password hashed at cost 10
            admin.add_user(conn, name, PASSWORD, ADMIN_FLAGS)
        returning = names[::2]  # logged in a day ago from the address they use now
        conn.execute(
            users.update()
            .where(users.c.user.in_(returning))
            .values(last_ip=ADDRESS, last_login_date=datetime.now() - timedelta(days=1))
        )
    engine.dispose()
    return names


def first_logins(base: str, names: list[str], phase: Phase) -> None:
    """Each user's first login, one at a time; busy answers waited out and tried again."""
    headers = {"X-Forwarded-For": ADDRESS}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        for n, name in enumerate(names):
            started = time.perf_counter()
            for _ in range(TRIES):
                r = client.get(
                    API,
                    params={"function": "update_did", "user": name, "pass": PASSWORD,
                            "source": "bench", "did_pattern": "18001234567",
                            "did_description": f"First login {n % 2}"},
                )  # fmt: skip
                if r.status_code != 503:
                    break
                phase.busy += 1
                if _ + 1 < TRIES:
                    time.sleep(float(r.headers.get("retry-after", "1")))
            times = phase.times if n % 2 == 0 else phase.new  # prepare(): even ones return
            if r.text.startswith("SUCCESS"):
                times.append(time.perf_counter() - started)
            else:
                phase.refused += 1
                times.append(float("inf"))
                if r.status_code != 503:
                    print(f"  {name} refused: {r.status_code} {r.text.strip()[:80]}", flush=True)


def flood(base: str, mix: str, connections: int, block: tuple[int, int]) -> subprocess.Popen:
    """wrk's flood; a spray guesses at the accounts numbered block[0] to block[1] - 1."""
    kinds = ", ".join(f'["{prefix}"] = "{name}"' for prefix, name in ANSWERS.items())
    user = USERS[mix].format(first=block[0], half=(block[1] - block[0]) // 2)
    path = OUT / f"first_login_{mix}.lua"
    path.write_text(LUA.format(api=API, kinds=kinds, user=user))
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", "-d600s", "--timeout", "60s", "-s", str(path), base],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def phase(
    backend: str,
    url: str,
    flood_of: tuple[str, int] | None,
    names: list[str],
    block: tuple[int, int] = (0, SPRAY),
) -> Phase:
    """First logins of `names` on a server process of their own, under `flood_of`."""
    mix, connections = flood_of or ("", 0)
    result = Phase(backend, f"{mix} x{connections}" if flood_of else "quiet")
    args = [sys.executable, "-m", "vicidid", "--db", url, "serve"]
    base, process, log = start([*args, "--trusted-proxy", "127.0.0.1"], "/healthz")
    try:
        if flood_of is None:
            first_logins(base, names, result)
            return result
        wrk = flood(base, mix, connections, block)
        try:
            time.sleep(3)  # the queue fills
            first_logins(base, names, result)
        finally:
            wrk.send_signal(signal.SIGINT)  # wrk stops, then prints its summary
            out = wrk.communicate(timeout=120)[0]
    finally:
        stop(process, log)
    result.answers = {k: int(v) for k, v in re.findall(r"ANSWER (\w+) (\d+)", out)}
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"wrk did not run: {out or '(no output)'}")
    result.rate = float(found.group(1))
    return result


def one_backend(backend: str, url: str, quiet: int, count: int) -> list[Phase]:
    names = iter(prepare(url, quiet + count * len(FLOODS)))
    rows = []
    sprays = [f for f in FLOODS if f[0] == "spray"]
    for flood_of in (None, *FLOODS):
        users = [next(names) for _ in range(quiet if flood_of is None else count)]
        n = sprays.index(flood_of) if flood_of in sprays else 0
        block = (n * SPRAY // len(sprays), (n + 1) * SPRAY // len(sprays))
        rows.append(phase(backend, url, flood_of, users, block))
        print(table(rows[-1:], head=False), flush=True)
    return rows


def quantile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def spread(times: list[float]) -> str:
    p50 = statistics.median(times) if times else float("nan")
    return f"{seconds(p50)} / {seconds(quantile(times, 0.9))}"


def seconds(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.3f}"


def table(rows: list[Phase], head: bool = True) -> str:
    lines = (
        [
            "| backend | flood × connections | first logins | returning p50 / p90 s "
            "| new p50 / p90 s | busy answers | never got in | flood req/s | bad_login "
            "| throttled | locked | busy | other |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        if head
        else []
    )
    for ph in rows:
        quiet = ph.flood == "quiet"
        counts = " | ".join(
            "–" if quiet else str(ph.answers.get(k, 0))
            for k in ("bad_login", "throttled", "locked", "busy", "other")
        )
        lines.append(
            f"| {ph.backend} | {ph.flood} | {len(ph.times) + len(ph.new)} "
            f"| {spread(ph.times)} | {spread(ph.new)} | {ph.busy} | {ph.refused} "
            f"| {'–' if quiet else f'{ph.rate:.0f}'} | {counts} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # the hashing is the same work on either: one backend keeps the default run short
    parser.add_argument("--backend", choices=["sqlite", "mariadb", "both"], default="mariadb")
    parser.add_argument("--quiet", type=int, default=40, help="first logins, no flood")
    parser.add_argument("--count", type=int, default=12, help="first logins per flood")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rows = []
    print(table([]), flush=True)
    for backend, url in fresh_databases(args.backend, "first_login"):
        rows += one_backend(backend, url, args.quiet, args.count)
    print()
    print(table(rows))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""The mixed load of tests/test_cluster.py: update_did, copy_did and add_did from many clients
through the balancer, each request marked by a source of its own, and the check that every
answer is reconciled with what the database holds."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from vicidid import API_PATH

SOURCE_DID = "18001234567"
FUNCTIONS = ("update_did", "copy_did", "add_did")
# api_log rows an acknowledged request writes: a copy logs its new DID and its summary
LOG_ROWS = {"update_did": 1, "copy_did": 2, "add_did": 1}


@dataclass
class Sent:
    source: str  # unique to the request: its mark in vicidial_api_log
    function: str
    did: str  # the DID it adds, or the description it sets
    status: int  # 0: no answer (the connection failed)
    body: str

    @property
    def acknowledged(self) -> bool:
        return self.status == 200 and self.body.startswith("SUCCESS")

    @property
    def refused(self) -> bool:
        """vicidid's own 503, which says nothing was written unless it says otherwise."""
        return self.status == 503 and "ERROR" in self.body and "partly applied" not in self.body


def request(client: httpx.Client, url: str, run: int, n: int, c: int) -> Sent:
    function = FUNCTIONS[(n + c) % 3]
    source = f"r{run}c{c}n{n}"
    params = {"function": function, "user": "admin", "pass": "1234", "source": source}
    did = f"5{run}{c:02d}{n:06d}"
    if function == "add_did":
        params["did_pattern"] = did
    elif function == "copy_did":
        params.update(did_pattern=SOURCE_DID, new_did_pattern=did)
    else:
        did = source
        params.update(did_pattern=SOURCE_DID, did_description=did)
    try:
        answer = client.get(url + API_PATH, params=params)
        return Sent(source, function, did, answer.status_code, answer.text)
    except httpx.HTTPError as error:
        return Sent(source, function, did, 0, f"{type(error).__name__}: {error}")


def run_load(url: str, run: int, seconds: float, clients: int = 32) -> list[Sent]:
    """`clients` threads, each with its own keep-alive connection, for `seconds`."""
    sent: list[Sent] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(c: int) -> None:
        mine: list[Sent] = []
        with httpx.Client(timeout=30) as http:
            n = 0
            while time.monotonic() < stop:
                mine.append(request(http, url, run, n, c))
                n += 1
        with lock:
            sent.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def reconcile(engine: sa.engine.Engine, sent: list[Sent], run: int) -> list[str]:
    """What does not add up: every acknowledged write present exactly once with its log rows,
    no request run twice, an unanswered one at most once, a refused one not at all. Empty
    when all is well."""
    with engine.connect() as conn:
        dids = Counter(
            conn.execute(
                sa.text("SELECT did_pattern FROM vicidial_inbound_dids WHERE did_pattern LIKE :p"),
                {"p": f"5{run}%"},
            ).scalars()
        )
        logs = Counter(
            conn.execute(
                sa.text("SELECT source FROM vicidial_api_log WHERE source LIKE :p"),
                {"p": f"r{run}c%"},
            ).scalars()
        )
        updates = Counter(
            m.group(1)
            for sql in conn.execute(
                sa.text("SELECT event_sql FROM vicidial_admin_log WHERE event_type = 'MODIFY'")
            ).scalars()
            if (m := re.search(r"did_description='(r\d+c\d+n\d+)'", sql or ""))
        )
    wrong = []
    for s in sent:
        if "ALREADY EXISTS" in s.body.upper():
            wrong.append(f"{s.source} {s.function} ran twice: {s.body!r}")
        present = updates[s.did] if s.function == "update_did" else dids[s.did]
        rows = logs[s.source]
        if s.acknowledged and (present, rows) != (1, LOG_ROWS[s.function]):
            wrong.append(f"{s.source} {s.function} acknowledged: {present} writes, {rows} log rows")
        if not s.acknowledged and (present > 1 or rows not in (0, LOG_ROWS[s.function])):
            wrong.append(f"{s.source} {s.function} unanswered: {present} writes, {rows} log rows")
        if s.refused and present:
            wrong.append(f"{s.source} {s.function} refused, yet written: {s.body.strip()!r}")
    return wrong

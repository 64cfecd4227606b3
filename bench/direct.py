"""The other reference: the statements one update_did request makes, run in a loop with
the same driver and no HTTP, so vicidid's rate can be read against the database's.

The same round trips as the server's request: the caller, the login settings and the
DID in one; the change with its admin_log, api_log and api_urls rows in another; COMMIT
(InnoDB and SQLite; a MyISAM database commits each statement as it runs).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import sqlalchemy as sa

from vicidid.core.functions.update_did import READ
from vicidid.store import reflect, wire
from vicidid.store.db import make_engine, transactional
from vicidid.store.statements import changes, logins, queries


def one_request(engine: sa.engine.Engine, dids: sa.TableClause, pattern: str, n: int) -> None:
    now = datetime.now().replace(microsecond=0)
    with engine.connect() as conn:
        if not AUTOCOMMIT[engine]:
            conn.begin()
        else:
            wire.use_autocommit(conn)
        found = logins.login_read(conn, "admin", queries.did_read(dids, pattern, READ)).also
        assert found
        did_id = found[0]["did_id"]
        admin = {
            "event_date": now,
            "user": "admin",
            "ip_address": "127.0.0.1",
            "event_section": "DIDS",
            "event_type": "MODIFY",
            "record_id": str(did_id),
            "event_code": "ADMIN API UPDATE DID",
            "event_sql": "",
            "event_notes": "",
        }
        api = {
            "user": "admin",
            "api_date": now,
            "api_script": "non-agent",
            "function": "update_did",
            "agent_user": "",
            "value": "",
            "result": "SUCCESS",
            "result_reason": "",
            "source": "bench",
            "data": pattern,
            "run_time": "0",
        }
        wire.send(
            conn,
            [
                changes.did_update(conn, did_id, {"did_description": f"Direct {n % 2}"}),
                changes.admin_log(conn, admin, None),
                *changes.api_log(conn, [api], "/x", "127.0.0.1"),
            ],
        )
        if conn.in_transaction():
            conn.commit()


AUTOCOMMIT: dict[sa.engine.Engine, bool] = {}


def measure(url: str, patterns: list[str], threads: int, seconds: float) -> float:
    """Requests per second with `threads` threads hammering the database directly."""
    engine = make_engine(url, pool_size=threads)
    dids = reflect.did_table(engine)
    with engine.connect() as conn:
        AUTOCOMMIT[engine] = not transactional(conn) and wire.direct(conn)
    done = [0] * threads
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        n = i
        while time.monotonic() < stop:
            one_request(engine, dids, patterns[n % len(patterns)], n)
            n += threads
            done[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    engine.dispose()
    return sum(done) / (time.monotonic() - start)

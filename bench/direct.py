"""The other reference: the statements one update_did request makes, run in a loop with
the same driver and no HTTP, so vicidid's rate can be read against the database's."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import sqlalchemy as sa

from vicidid.core.functions.update_did import READ
from vicidid.store import queries, reflect
from vicidid.store.db import make_engine


def one_request(engine: sa.engine.Engine, dids: sa.TableClause, pattern: str, n: int) -> None:
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        queries.caller_and_settings(conn, "admin")
        row = queries.did_by_pattern(conn, dids, pattern, READ)
        queries.update_did(conn, row["did_id"], {"did_description": f"Direct {n % 2}"})
        queries.admin_log(
            conn,
            event_date=now,
            user="admin",
            ip_address="127.0.0.1",
            event_section="DIDS",
            event_type="MODIFY",
            record_id=str(row["did_id"]),
            event_code="ADMIN API UPDATE DID",
            event_sql="",
            event_notes="",
        )
        queries.api_log(
            conn,
            [
                {
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
            ],
            "/x",
            "127.0.0.1",
        )


def measure(url: str, patterns: list[str], threads: int, seconds: float) -> float:
    """Requests per second with `threads` threads hammering the database directly."""
    engine = make_engine(url, pool_size=threads)
    dids = reflect.did_table(engine)
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

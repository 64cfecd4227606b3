"""Safe retries: an Idempotency-Key on add_did and copy_did replays the first answer.

The key is claimed in the same transaction as the change it guards: two requests with
one key cannot both act, because the second one's insert of the key waits for the first
to commit, fails on the primary key, and the whole transaction runs again, this time
finding the stored answer. Where the tables are not transactional (VICIdial's MyISAM)
there is no such wait: the first would act and the second, finding the DIDs already
there, answer that they exist and store that answer first. There a named lock of the
server, one per caller's key, makes the second request wait until the first has stored
its answer, which it then replays; across servers too, as they share the database.

An answer too big for the body column is not stored (the key then answers once: a retry
acts again). Expired keys are purged at most once a minute, in a transaction of their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vicidid.core.call import Call, Done
from vicidid.core.dialects import answer as answers
from vicidid.core.functions import dispatch
from vicidid.core.outcomes import Kind
from vicidid.errors import VicididError
from vicidid.fields import IDEMPOTENCY_KEY
from vicidid.store import sizes
from vicidid.store import tables as t
from vicidid.store.statements import keys

KEEP_FOR = timedelta(hours=24)
LOCK_WAIT = 10.0  # seconds a request waits for another one with its key to finish
PURGE_EVERY = 60.0  # seconds
NOT_COMPARED = {"pass", "idempotency_key"}


class KeyTaken(VicididError):
    """Another request claimed the same key first; run the transaction again."""


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    content_type: str
    body: str


def fingerprint(raw: dict[str, str], user: str, as_json: bool) -> str:
    """What makes two requests "the same": every parameter but the password and the key."""
    kept = sorted((k, v) for k, v in raw.items() if k not in NOT_COMPARED)
    blob = json.dumps([user, as_json, kept], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class KeyBusy(VicididError):
    """Another request with the same key ran past LOCK_WAIT; this one did nothing."""


@contextlib.contextmanager
def one_at_a_time(conn: Connection, key: str, user: str, needed: bool) -> Iterator[None]:
    """Requests with this caller's key one after the other (when `needed`: the database's
    tables are not transactional, and it is MariaDB/MySQL); KeyBusy when the wait is over."""
    if not needed or conn.dialect.name not in ("mysql", "mariadb"):
        yield
        return
    name = "vicidid_key_" + hashlib.sha256(f"{user}\0{key}".encode()).hexdigest()[:48]
    if not keys.lock_key(conn, name, LOCK_WAIT):
        raise KeyBusy(key)
    try:
        yield
    finally:
        keys.unlock_key(conn, name)


def lookup(conn: Connection, key: str, user: str, now: datetime) -> Stored | None:
    keys.drop_expired_key(conn, key, user, now - KEEP_FOR)
    row = keys.stored_answer(conn, key, user)
    if row is None:
        return None
    return Stored(row["fingerprint"], row["status"], row["content_type"], row["body"])


def save(conn: Connection, key: str, user: str, stored: Stored, now: datetime) -> bool:
    """Claim the key with its answer; False when the answer is too big to keep (not stored)."""
    room = sizes.of(conn).room(t.idempotency.name, "body")
    if room is not None and not room.holds(stored.body):
        return False
    try:
        keys.claim_key(
            conn,
            idem_key=key,
            user=user,
            fingerprint=stored.fingerprint,
            status=stored.status,
            content_type=stored.content_type,
            body=stored.body,
            created=now,
        )
    except sa.exc.IntegrityError as error:
        raise KeyTaken from error
    return True


def purge(conn: Connection, now: datetime) -> int:
    """Delete every expired key; how many there were."""
    return keys.purge_keys(conn, now - KEEP_FOR)


class PurgeTimer:
    """Says when the expired keys are due for a purge: at most once every `every` seconds."""

    def __init__(self, every: float = PURGE_EVERY) -> None:
        self.every = every
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                return False
            self._next = now + self.every
            return True


def once(call: Call, key: str, dialect: str | None, as_json: bool) -> Done:
    """Run an add or copy at most once per key, replaying the first answer.

    `dialect`: how the answer is rendered to be stored; None where it cannot be stored
    (no key table, or a caller that renders no answer), which the answer says.
    """
    problem = key_problem(key)
    if problem or dialect is None:
        kind = Kind.IDEMPOTENCY_UNAVAILABLE if not problem else Kind.INVALID_FIELD
        rule = {"rule": problem} if problem else {}
        return Done(call.answer(kind, field=IDEMPOTENCY_KEY, value=key[:100], extra=rule))
    fp = fingerprint(call.params.raw, call.user, as_json)
    try:
        with one_at_a_time(call.conn, key, call.user, not call.transactional):
            stored = lookup(call.conn, key, call.user, call.now)
            if stored is not None:
                if stored.fingerprint != fp:
                    return Done(call.answer(Kind.IDEMPOTENCY_REUSED, value=key))
                return Done(call.answer(Kind.REPLAYED, value=key, extra={"stored": stored}))
            done = dispatch(call)
            status, content_type, body = answers.render(
                done.outcomes, call.function, call.changes, dialect, as_json
            )
            save(call.conn, key, call.user, Stored(fp, status, content_type, body), call.now)
            return done
    except KeyBusy:
        return Done(call.answer(Kind.OVERLOADED))  # nothing done: try again in a second


def key_problem(key: str) -> str:
    """What is wrong with a key, or "" when it is one."""
    if len(key) > IDEMPOTENCY_KEY.max_len or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in key
    ):
        return "must be 1 to 100 letters, digits, - or _"
    return ""

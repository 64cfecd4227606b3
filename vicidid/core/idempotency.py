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

from vicidid.errors import VicididError
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

"""The Idempotency-Key table's statements: a key's stored answer, its claim, its purge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vicidid.store import tables as t


def drop_expired_key(conn: Connection, key: str, user: str, before: datetime) -> None:
    """Forget this caller's key if it was stored before `before`."""
    i = t.idempotency
    conn.execute(i.delete().where(i.c.idem_key == key, i.c.user == user, i.c.created < before))


def stored_answer(conn: Connection, key: str, user: str) -> dict[str, Any] | None:
    i = t.idempotency
    row = conn.execute(sa.select(i).where(i.c.idem_key == key, i.c.user == user)).mappings().first()
    return dict(row) if row is not None else None


def claim_key(conn: Connection, **values: object) -> None:
    """Insert the key with its answer; raises IntegrityError when another request holds it."""
    conn.execute(t.idempotency.insert().values(**values))


# MariaDB/MySQL's named locks, one per caller's key (the name at most 64 characters)
GET_KEY_LOCK = sa.text("SELECT GET_LOCK(:name, :seconds)")
RELEASE_KEY_LOCK = sa.text("SELECT RELEASE_LOCK(:name)")


def lock_key(conn: Connection, name: str, seconds: float) -> bool:
    """Hold the server's named lock `name`, waiting up to `seconds`; False when it did not
    come. The server releases it when the connection ends, however it ends."""
    return conn.execute(GET_KEY_LOCK, {"name": name, "seconds": seconds}).scalar() == 1


def unlock_key(conn: Connection, name: str) -> None:
    conn.execute(RELEASE_KEY_LOCK, {"name": name})


def purge_keys(conn: Connection, before: datetime) -> int:
    """Delete every key stored before `before`; how many there were."""
    i = t.idempotency
    return conn.execute(i.delete().where(i.c.created < before)).rowcount

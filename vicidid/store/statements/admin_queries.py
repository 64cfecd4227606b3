"""The statements of the management commands (users, groups, reference rows, DIDs listed
or exported, the demo data): none of them runs while serving a request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vicidid.store import tables as t


def group_exists(conn: Connection, group: str) -> bool:
    g = t.user_groups
    return (
        conn.execute(sa.select(g.c.user_group).where(g.c.user_group == group)).first() is not None
    )


def insert_user(conn: Connection, values: Mapping[str, object]) -> None:
    conn.execute(t.users.insert().values(**values))


def update_user(conn: Connection, user: str, values: Mapping[str, object]) -> None:
    conn.execute(t.users.update().where(t.users.c.user == user).values(**values))


def insert_group(conn: Connection, group: str, name: str, viewable: str) -> None:
    conn.execute(
        t.user_groups.insert().values(
            user_group=group, group_name=name, admin_viewable_groups=viewable
        )
    )


def insert_row(conn: Connection, table: sa.Table, values: Mapping[str, object]) -> None:
    """One reference row (an in-group, a call menu, a server)."""
    conn.execute(table.insert().values(**values))


def did_exists(conn: Connection, pattern: str) -> bool:
    d = t.inbound_dids
    return conn.execute(sa.select(d.c.did_id).where(d.c.did_pattern == pattern)).first() is not None


def insert_did(conn: Connection, values: Mapping[str, object]) -> None:
    """A DID with vicidid's declared columns only (the demo's)."""
    conn.execute(t.inbound_dids.insert().values(**values))


def did_summaries(conn: Connection) -> list[tuple[Any, ...]]:
    """(pattern, active, route, description) of every DID, by pattern."""
    d = t.inbound_dids
    stmt = sa.select(d.c.did_pattern, d.c.did_active, d.c.did_route, d.c.did_description)
    return list(conn.execute(stmt.order_by(d.c.did_pattern)).all())


def dids_by_prefix(conn: Connection, dids: sa.TableClause, prefix: str) -> list[dict[str, Any]]:
    """Every column of every DID whose pattern starts with `prefix` (all when empty)."""
    stmt = sa.select(dids).order_by(dids.c.did_pattern)
    if prefix:
        stmt = stmt.where(dids.c.did_pattern.startswith(prefix, autoescape=True))
    return [dict(r) for r in conn.execute(stmt).mappings()]

"""did_list's page of DIDs: filters compared exactly, whatever the collation says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from vicidid.rows import DidRow


class _Exact(ColumnElement[str]):
    """A text as its bytes, so that comparing two is exact whatever the collation says.

    MariaDB compares through the column's collation, which is blind to case and accents
    (and ignores trailing spaces): 'scoped' = 'SCOPÉD' = 'SCOPED '. User groups are
    compared exactly everywhere else (as VICIdial's PHP compares them in code), so
    did_list's filters compare the UTF-8 bytes. SQLite compares bytes already.
    """

    inherit_cache = True
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]
    type = sa.String()

    def __init__(self, clause: ColumnElement[Any]) -> None:
        self.clause = clause


@compiles(_Exact)
def _exact_plain(element: _Exact, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clause, **kw)


@compiles(_Exact, "mysql")
def _exact_mysql(element: _Exact, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(CONVERT({compiler.process(element.clause, **kw)} USING utf8mb4) AS BINARY)"


def exactly_in(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """`column IN values`, compared exactly (case, accents and trailing spaces count)."""
    return _Exact(column).in_([_Exact(sa.literal(v, sa.String)) for v in values])


@dataclass(frozen=True)
class DidFilters:
    """What did_list narrows the DIDs to; None (or empty) filters nothing."""

    route: str | None = None
    did_active: str | None = None
    group: str | None = None
    user_group: str | None = None
    prefix: str | None = None
    viewable_groups: Iterable[str] | None = None  # None: the caller sees every group


def _did_filters(dids: sa.TableClause, f: DidFilters) -> list[ColumnElement[bool]]:
    c = dids.c
    where: list[ColumnElement[bool]] = []
    if f.route is not None:
        where.append(c.did_route == f.route)
    if f.did_active is not None:
        where.append(c.did_active == f.did_active)
    # group names compared exactly, as did_info and update_did compare them
    if f.group is not None:
        where.append(exactly_in(c.group_id, [f.group]))
    if f.user_group is not None:
        where.append(exactly_in(c.user_group, [f.user_group]))
    if f.prefix is not None:
        where.append(c.did_pattern.startswith(f.prefix, autoescape=True))
    if f.viewable_groups is not None:
        where.append(exactly_in(c.user_group, sorted(f.viewable_groups)))
    return where


def did_page(
    conn: Connection, dids: sa.TableClause, filters: DidFilters, limit: int, offset: int
) -> list[DidRow]:
    where = _did_filters(dids, filters)
    stmt = sa.select(dids).where(*where).order_by(dids.c.did_pattern).limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(stmt).mappings()]

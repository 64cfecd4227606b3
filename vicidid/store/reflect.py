"""What the database really holds, read from it: the DID table's columns, the table names.

A site may have added its own columns to vicidial_inbound_dids, and copy_did copies
them too, so the DID table is read from the database, not taken from store/tables.py.
It is read once per engine; init-db forgets it (its tables may have changed).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from vicidid.store import tables as t
from vicidid.store.db import PerEngine
from vicidid.store.statements import queries


def _read(conn: Connection) -> sa.TableClause:
    columns = [c["name"] for c in sa.inspect(conn).get_columns(t.inbound_dids.name)]
    return queries.did_table(columns)


_known: PerEngine[sa.TableClause] = PerEngine(_read)


def did_table(bind: Engine | Connection) -> sa.TableClause:
    """vicidial_inbound_dids with the columns the database really has, read once per engine."""
    return _known.get(bind)


def did_columns(bind: Engine | Connection) -> list[str]:
    """The DID table's column names, in the database's order."""
    return [c.name for c in did_table(bind).columns]


def table_names(engine: Engine) -> set[str]:
    """Every table the database holds now (not remembered)."""
    return set(sa.inspect(engine).get_table_names())


def forget(engine: Engine) -> None:
    """Read the DID table again on next use (after init-db changed the tables)."""
    _known.forget(engine)

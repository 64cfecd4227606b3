"""What the database really holds, read from it: the DID table's columns, the table names.

A site may have added its own columns to vicidial_inbound_dids, and copy_did copies
them too, so the DID table is read from the database, not taken from store/tables.py.
It is read once per engine; init-db forgets it (its tables may have changed).
"""

from __future__ import annotations

import threading
import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from vicidid.store import tables as t
from vicidid.store.statements import queries

_known: weakref.WeakKeyDictionary[Engine, sa.TableClause] = weakref.WeakKeyDictionary()
_reading = threading.Lock()


def did_table(bind: Engine | Connection) -> sa.TableClause:
    """vicidial_inbound_dids with the columns the database really has, read once per engine."""
    engine = bind if isinstance(bind, Engine) else bind.engine
    known = _known.get(engine)
    if known is not None:
        return known
    with _reading:
        if engine not in _known:
            columns = [c["name"] for c in sa.inspect(bind).get_columns(t.inbound_dids.name)]
            _known[engine] = queries.did_table(columns)
        return _known[engine]


def did_columns(bind: Engine | Connection) -> list[str]:
    """The DID table's column names, in the database's order."""
    return [c.name for c in did_table(bind).columns]


def table_names(engine: Engine) -> set[str]:
    """Every table the database holds now (not remembered)."""
    return set(sa.inspect(engine).get_table_names())


def forget(engine: Engine) -> None:
    """Read the DID table again on next use (after init-db changed the tables)."""
    with _reading:
        _known.pop(engine, None)

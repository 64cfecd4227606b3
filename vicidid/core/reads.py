"""Where a read-only request reads: the replica (`--read-url`) when it is usable, else the
primary. The login, its bookkeeping, the api_log rows and every write stay on the primary;
only the function's own reads (did_info, did_list) move."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from vicidid.core.functions import FUNCTIONS
from vicidid.store.replica import Replica

REPLICA = "replica"
PRIMARY = "primary"  # a read that could have gone to the replica, sent to the primary


def reads_only(function: str) -> bool:
    known = FUNCTIONS.get(function)
    return known is not None and known.needs_login and not known.changes_dids


@contextlib.contextmanager
def reading(
    replica: Replica | None, function: str, allowed: bool
) -> Iterator[tuple[Connection | None, str]]:
    """A connection to the replica and "replica", or None and where the read goes instead
    ("primary", or "" for a request that is not a read the replica may answer, or whose
    caller is not `allowed` to run it: a refused login opens no replica connection)."""
    if replica is None or not reads_only(function) or not allowed:
        yield None, ""
        return
    if not replica.usable():
        yield None, PRIMARY
        return
    try:
        conn = replica.connect()
    except sa_exc.SQLAlchemyError as error:
        replica.failed(error)
        yield None, PRIMARY
        return
    try:
        with conn:
            yield conn, REPLICA
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
        replica.failed(error)  # the request runs again, on the primary
        raise

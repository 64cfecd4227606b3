"""One call: everything a function needs, and the dialect's policies.

A call is authenticated, with its caller's row, unless its function needs no login
(version): that call has no caller, and its user is the one the request names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Params
from vicidid.fields import USER
from vicidid.rows import CallerRow, DidRow
from vicidid.store.statements import queries
from vicidid.store.wire import Write


@dataclass(frozen=True)
class Policy:
    """Where the dialects differ in policy, not only in words.

    The contract: docs/behaviour.md#dialect-policies.
    """

    name: str
    filtering: bool  # remove characters outside a field's set instead of refusing them
    min_login_level: int
    max_new_dids: int  # items in one copy; vicidial is bounded by new_dids' 2,000 chars
    empty_items_invalid: bool  # `a,,b`: vicidial reports the empty item, simple skips it
    vicidial_names: bool = False  # read only VICIdial's parameter names (fields.py)
    # copy_did checks did_description first (simple) or, as VICIdial, only for a DID about
    # to be inserted
    description_in_loop: bool = False
    whole_echoes: bool = False  # echo values whole, as VICIdial, not cut to one short line
    min_item_len: int = 2  # a new DID of a copy: 1 (vicidial, as VICIdial) or 2 to 50 characters


POLICIES = {
    "simple": Policy(
        "simple", filtering=False, min_login_level=1, max_new_dids=10_000, empty_items_invalid=False
    ),
    "vicidial": Policy(
        "vicidial",
        filtering=True,
        min_login_level=7,
        max_new_dids=10_000,
        empty_items_invalid=True,
        vicidial_names=True,
        description_in_loop=True,
        whole_echoes=True,
        min_item_len=1,
    ),
}


@dataclass(frozen=True)
class Prefetched:
    """The DID row a function declares it reads (its `reads_did` columns), read with the
    login in one round trip, in the transaction that then writes."""

    pattern: str
    columns: tuple[str, ...]
    row: DidRow | None


@dataclass(frozen=True)
class Done:
    """What a function did: its answer, and the writes it leaves for the pipeline to send
    with the request's api_log rows (one round trip on MariaDB/MySQL, store/wire.py).

    A write that needs its DID row to be there still (an UPDATE or DELETE of a row read
    before) comes with `if_gone`: the answer instead, should another client have deleted
    the DID meanwhile; nothing of the change is then written.
    """

    outcomes: list[Outcome]
    writes: tuple[Write, ...] = ()
    if_gone: tuple[Outcome, ...] = ()


@dataclass
class Call:
    conn: Connection
    params: Params
    policy: Policy
    # the vicidial_users row, with its group's viewing and IP columns; None without a login
    caller_row: CallerRow | None
    function: str
    source: str
    ip: str
    now: datetime
    dids: sa.TableClause  # vicidial_inbound_dids with the columns the database really has
    changes: list[str] = field(default_factory=list)  # DIDs touched, for JSON and metrics
    bulk_ids: bool = False  # multi-row inserts get consecutive ids (store.queries)
    # A request's writes commit together (InnoDB, SQLite), or each lands as it runs (MyISAM).
    transactional: bool = True
    # The DID row read with the login: the read the function declares, made already.
    prefetched: Prefetched | None = None

    def did(self, pattern: str, columns: tuple[str, ...]) -> DidRow | None:
        """The DID's row (only `columns`): the one read with the login, when that is the
        read asked for; else read now, in the request's transaction."""
        known = self.prefetched
        if known is not None and known.pattern == pattern and known.columns == columns:
            return known.row
        return queries.did_by_pattern(self.conn, self.dids, pattern, columns)

    @property
    def caller(self) -> CallerRow:
        """The logged-in caller's row; only a function that needs a login may ask for it."""
        if self.caller_row is None:
            raise LookupError(f"{self.function} runs without a login, so without a caller")
        return self.caller_row

    @property
    def user(self) -> str:
        if self.caller_row is None:
            return self.params.shown(USER)[:20]
        return self.caller_row["user"]

    def outcome(self, kind: Kind, **kw: Any) -> Outcome:
        return Outcome(kind, function=self.function, user=self.user, **kw)

    def answer(self, kind: Kind, **kw: Any) -> list[Outcome]:
        """The whole answer when it is this one outcome, a success or a refusal."""
        return [self.outcome(kind, **kw)]

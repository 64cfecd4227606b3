"""Logging in: the caller's row with the login settings, and the bookkeeping VICIdial
writes on vicidial_users (failures, lockout, the last login), as statements built once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vicidid.auth.rules import LOCK_AFTER
from vicidid.rows import CallerRow, SettingsRow
from vicidid.store import sizes
from vicidid.store import tables as t
from vicidid.store.statements import throttle
from vicidid.store.wire import Read, fetch

LOGIN_SETTINGS = (
    "pass_hash_enabled",
    "pass_key",
    "pass_cost",
    "allow_ip_lists",
    "system_ip_blacklist",
)


SYSTEM_SETTINGS = sa.select(*(t.system_settings.c[c] for c in LOGIN_SETTINGS)).limit(1)


def system_settings(conn: Connection) -> SettingsRow:
    """The system_settings values that logging in needs (VICIdial's table has hundreds)."""
    row = conn.execute(SYSTEM_SETTINGS).mappings().first()
    return cast(SettingsRow, dict(row)) if row else {}


_SAME_GROUP = t.user_groups.c.user_group == t.users.c.user_group
_USER_AND_GROUP = t.users.outerjoin(t.user_groups, _SAME_GROUP)
CALLER = (
    sa.select(t.users, t.user_groups.c.admin_viewable_groups, t.user_groups.c.api_ip_list)
    .select_from(_USER_AND_GROUP)
    .where(t.users.c.user == sa.bindparam("caller"))
)


def caller(conn: Connection, user: str) -> CallerRow | None:
    """The user's row with its group's viewing and IP columns."""
    row = conn.execute(CALLER, {"caller": user}).mappings().first()
    return cast(CallerRow, dict(row)) if row else None


# Constants written into the SQL, not bound: each bound value costs the driver an escape
_ONE: sa.ColumnClause[int] = sa.literal_column("1")
_ONE_ROW = sa.select(_ONE.label("one")).subquery("one_row")
# One row always, whether the user and the settings row exist or not: an unknown user
# still gets the settings (its password is checked against a dummy at the system's cost).
CALLER_AND_SETTINGS = sa.select(
    *CALLER.selected_columns,
    *(
        sa.select(t.system_settings.c[c]).limit(_ONE).scalar_subquery().label(f"settings_{c}")
        for c in LOGIN_SETTINGS
    ),
).select_from(
    _ONE_ROW.outerjoin(t.users, t.users.c.user == sa.bindparam("caller")).outerjoin(
        t.user_groups, _SAME_GROUP
    )
)


# The same, with the client address's throttle window (store/statements/throttle.py) read along.
CALLER_SETTINGS_AND_WINDOW = CALLER_AND_SETTINGS.add_columns(
    throttle.FAILURES.label("throttle_failures"),
    throttle.WINDOW_START.label("throttle_start"),
)

# (setting, its label in CALLER_AND_SETTINGS); no column of the caller's has such a name
_SETTINGS_LABELS = tuple((c, f"settings_{c}") for c in LOGIN_SETTINGS)


@dataclass(frozen=True)
class Found:
    """What the login's read found."""

    caller: CallerRow | None
    settings: SettingsRow
    also: list[dict[str, Any]] | None  # the rows of the read that rode along
    failures: int | None = None  # the address's throttle window, when one was read
    window_start: int | None = None


def login_read(
    conn: Connection, user: str, also: Read | None = None, address: str | None = None
) -> Found:
    """The caller, the login settings, the address's throttle window (when `address` is
    given) and `also`'s rows, in one round trip."""
    if address is None:
        reads = [Read(CALLER_AND_SETTINGS, {"caller": user})]
    else:
        reads = [Read(CALLER_SETTINGS_AND_WINDOW, {"caller": user, "at_address": address})]
    if also is not None:
        reads.append(also)
    found = fetch(conn, reads)
    extra = found[1] if also is not None else None
    # first(): VICIdial's own schema does not make user names or group names unique
    if not found[0]:
        return Found(None, {}, extra)
    row = found[0][0]  # a fresh dict: what is left once the settings are taken out is the caller
    settings = cast(SettingsRow, {c: row.pop(label) for c, label in _SETTINGS_LABELS})
    failures = start = None
    if address is not None:
        failures, start = row.pop("throttle_failures"), row.pop("throttle_start")
        start = int(start) if start is not None else None
    caller = None if row["user"] is None else cast(CallerRow, row)
    return Found(caller, settings, extra, failures, start)


# Writes the same values however often it runs: safe to run again after a lost connection
# even where it landed for good (MyISAM; see pipeline.py).
LOGIN_SUCCEEDED = (
    t.users.update()
    .where(t.users.c.user == sa.bindparam("caller"))
    .execution_options(repeatable=True)
)


def login_succeeded(conn: Connection, user: str, ip: str, now: datetime) -> None:
    values = {"caller": user, "last_login_date": now, "last_ip": ip, "failed_login_count": 0}
    conn.execute(LOGIN_SUCCEEDED, sizes.of(conn).fit(t.users.name, values))


_THE_CALLER = t.users.c.user == sa.bindparam("caller")
_FAILED_TODAY = {
    "failed_login_attempts_today": t.users.c.failed_login_attempts_today + 1,
    "failed_login_count_today": t.users.c.failed_login_count_today + 1,
    "failed_last_ip_today": sa.bindparam("from_ip"),
    "failed_last_type_today": "aBAD",
}
# An attempt claimed before its password is checked counts as a failure at once, as
# VICIdial counts one: one more, or, ten or more with the last login over 15 minutes old,
# the first of a new window (last_login_date = now, count 1). A locked account matches no
# row. MariaDB assigns left to right: last_login_date is decided first, from the old count.
_COUNTED = t.users.c.failed_login_count >= LOCK_AFTER
_UNLOCKED = t.users.update().where(
    _THE_CALLER,
    sa.or_(
        t.users.c.failed_login_count < LOCK_AFTER,
        t.users.c.last_login_date.is_(None),
        t.users.c.last_login_date < sa.bindparam("stale"),
    ),
)
_COUNT = (
    (
        t.users.c.last_login_date,
        sa.case(
            (_COUNTED, sa.bindparam("at", type_=t.users.c.last_login_date.type)),
            else_=t.users.c.last_login_date,
        ),
    ),
    (t.users.c.failed_login_count, sa.case((_COUNTED, 1), else_=t.users.c.failed_login_count + 1)),
)
CLAIM = _UNLOCKED.ordered_values(*_COUNT)
# A guess already known wrong (a plain password): the claim and the day's counts at once,
# so that a wrong password is one UPDATE and one COMMIT, whether the user exists or not.
CLAIM_FAILED = _UNLOCKED.ordered_values(
    *_COUNT, *((t.users.c[name], value) for name, value in _FAILED_TODAY.items())
)
# The claimed attempt was wrong: what else VICIdial writes for a failure.
LOGIN_FAILED = t.users.update().where(_THE_CALLER).values(**_FAILED_TODAY)
# The claimed attempt was right but its address refused: the failure it counted goes.
UNCLAIM = (
    t.users.update()
    .where(_THE_CALLER, t.users.c.failed_login_count > 0)
    .values(failed_login_count=t.users.c.failed_login_count - 1)
)
LOGIN_LOCKED = (
    t.users.update()
    .where(_THE_CALLER)
    .values(
        failed_login_attempts_today=t.users.c.failed_login_attempts_today + 1,
        failed_last_ip_today=sa.bindparam("from_ip"),
        failed_last_type_today=sa.bindparam("kind"),
    )
)


def claim(
    conn: Connection, user: str, now: datetime, lock_for: timedelta, failed_from: str = ""
) -> bool:
    """Count an attempt as a failure before its password is checked; False when the
    account is locked (or there is no such user: the statement is the same either way).

    `failed_from`: the address of a guess known wrong already, whose day's counts are
    written by the same statement (`login_failed` is then not needed)."""
    values = {"caller": user, "at": now, "stale": now - lock_for}
    if failed_from:
        values["from_ip"] = _fit_ip(conn, failed_from)
    return conn.execute(CLAIM_FAILED if failed_from else CLAIM, values).rowcount > 0


def login_failed(conn: Connection, user: str, ip: str) -> None:
    """A wrong password, its failure already counted by `claim`: the day's counts."""
    conn.execute(LOGIN_FAILED, {"caller": user, "from_ip": _fit_ip(conn, ip)})


# ... or, where the claim began a new window, the window as it was, unless counted since.
UNCLAIM_WINDOW = (
    t.users.update()
    .where(
        _THE_CALLER,
        t.users.c.failed_login_count == 1,
        t.users.c.last_login_date == sa.bindparam("at"),
    )
    .values(failed_login_count=sa.bindparam("count"), last_login_date=sa.bindparam("last"))
)


def unclaim(conn: Connection, row: CallerRow, at: datetime) -> None:
    """Take back a claim made at `at` on the account as `row` read it before."""
    count = row.get("failed_login_count") or 0
    if int(count) < LOCK_AFTER:
        conn.execute(UNCLAIM, {"caller": row["user"]})
        return
    values = {"caller": row["user"], "at": at, "count": count}
    conn.execute(UNCLAIM_WINDOW, {**values, "last": row.get("last_login_date")})


def login_locked(conn: Connection, user: str, ip: str) -> None:
    """Refused while locked: only the day's attempts and the last failure change."""
    conn.execute(LOGIN_LOCKED, {"caller": user, "from_ip": _fit_ip(conn, ip), "kind": "aLOCK"})


def login_ip_refused(conn: Connection, user: str, ip: str) -> None:
    """The right password from an address the IP lists refuse: the failure count stays."""
    conn.execute(LOGIN_LOCKED, {"caller": user, "from_ip": _fit_ip(conn, ip), "kind": "aIPBLOCK"})


def unlock(conn: Connection, user: str) -> bool:
    """Clear the user's failed logins; False when there is no such user."""
    result = conn.execute(
        t.users.update().where(_THE_CALLER).values(failed_login_count=0), {"caller": user}
    )
    return result.rowcount == 1


def _fit_ip(conn: Connection, ip: str) -> str:
    return sizes.of(conn).fit_value(t.users.name, "failed_last_ip_today", ip)


def ip_list(conn: Connection, list_id: str) -> list[str]:
    """The addresses of an IP list. As VICIdial, the list's `active` flag is not looked at,
    and a list that does not exist holds no address."""
    entries = t.ip_list_entries
    rows = conn.execute(sa.select(entries.c.ip_address).where(entries.c.ip_list_id == list_id))
    return [r[0] for r in rows]

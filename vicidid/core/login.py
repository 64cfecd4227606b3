"""Logging in, in two steps: check before any lock, then write the bookkeeping.

`Gate.read` reads the caller and the login settings on a connection that holds no write
lock, `Gate.verify` checks the password (bcrypt for hashed ones, remembered once right;
the HTTP edge runs it on threads of its own when it must hash), `Gate.screen` reads the
IP lists. Only then does the request open its write transaction, in which `Gate.settle`
writes what VICIdial writes on the user's row and answers a refused login. A failing
login therefore holds up writers only for its short UPDATE, never for its hashing.

The caller's row read in the first step is the one the whole request uses: a change to
it racing within milliseconds is as if the request had come first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from vicidid.auth import rules as auth
from vicidid.auth.throttle import LoginThrottle
from vicidid.core.call import Policy
from vicidid.core.fields import PASS, USER
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Params, strip_to
from vicidid.rows import CallerRow
from vicidid.store import logins
from vicidid.store.wire import Read

FRESH_LOGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class Attempt:
    """A login as read, before its password is checked."""

    user: str  # the user name as given (answers show it through the dialect's filter)
    password: str = field(repr=False)  # never in a log line
    ip: str
    conflict: bool = False
    row: CallerRow | None = field(default=None, repr=False)  # holds pass and pass_hash
    settings: auth.LoginSettings = field(default_factory=auth.LoginSettings)
    also: list[dict[str, Any]] | None = field(default=None, repr=False)  # read with the login


@dataclass(frozen=True)
class Verdict:
    """What the check found: who, whether the login holds, and the rows read for it."""

    user: str
    login: auth.Login | None  # None: conflicting credentials
    row: CallerRow | None = field(default=None, repr=False)  # holds pass and pass_hash
    settings: auth.LoginSettings = field(default_factory=auth.LoginSettings)
    ip_allowed: bool | None = None  # None: not looked at yet (IP lists are read for OK only)
    also: list[dict[str, Any]] | None = field(default=None, repr=False)  # read with the login


class Gate:
    """The login of one server process: its verified-password cache and its throttle.

    In order: `read` (the database, no lock), `verify` (CPU only: the hashing, which the
    HTTP edge runs on threads of its own), `screen` (the IP lists), then, inside the
    request's write transaction, `settle`.
    """

    def __init__(self, policy: Policy, throttle: LoginThrottle | None = None) -> None:
        self.policy = policy
        self.throttle = throttle
        self.verified = auth.VerifiedLogins()

    def throttled(self, ip: str) -> bool:
        """Refuse this address without a check: too many failed logins from it lately."""
        return self.throttle is not None and self.throttle.refused(ip)

    def credentials(self, params: Params, basic: tuple[str, str] | None) -> tuple[str, str, bool]:
        """(user, password, conflict): the parameters, or HTTP Basic auth, filtered alike."""
        if self.policy.filtering:
            user, password = params.shown(USER), params.shown(PASS)
        else:
            user, password = params.raw.get("user", ""), params.raw.get("pass", "")
        if basic is not None:
            b_user, b_pass = basic
            if self.policy.filtering:  # VICIdial's filter, whichever way they came
                b_user, b_pass = strip_to(USER.charset, b_user), strip_to(PASS.charset, b_pass)
            if (user and user != b_user) or (password and password != b_pass):
                return user or b_user, "", True
            user, password = b_user, b_pass
        return user, password, False

    def read(
        self,
        conn: Connection,
        params: Params,
        basic: tuple[str, str] | None,
        ip: str,
        also: Read | None = None,
    ) -> Attempt:
        """The caller's row and the login settings, in one read that takes no lock.

        `also` rides along in the same round trip: the row the function will read.
        """
        user, password, conflict = self.credentials(params, basic)
        if conflict:
            return Attempt(user[:20], "", ip, conflict=True)
        # Always read, even without a user name: the settings say what a check costs.
        row, settings_row, also_rows = logins.login_read(conn, user, also)
        settings = auth.LoginSettings.from_row(settings_row)
        return Attempt(user[:20], password, ip, False, row, settings, also_rows)

    def costly(self, attempt: Attempt, now: datetime) -> bool:
        """Whether verifying this attempt means hashing (not locked, not remembered)."""
        if attempt.conflict or not attempt.password or not attempt.settings.pass_hash_enabled:
            return False
        row = attempt.row
        if row is None:
            return True
        if auth.is_locked(row, now):
            return False
        stored = row.get("pass_hash") or ""
        return not self.verified.known(row["user"], attempt.password, stored)

    def verify(self, attempt: Attempt, now: datetime) -> Verdict:
        """Check the password (the costly part: no connection or lock is held for it)."""
        if attempt.conflict:
            self._failed(attempt.ip)
            return Verdict(attempt.user, None)
        login = auth.check_login(
            attempt.row,
            attempt.password,
            attempt.settings,
            now,
            self.policy.min_login_level,
            self.verified,
        )
        if login is not auth.Login.OK:
            self._failed(attempt.ip)
            return Verdict(attempt.user, login, attempt.row, attempt.settings)
        assert attempt.row is not None
        user = attempt.row["user"]
        return Verdict(user, login, attempt.row, attempt.settings, also=attempt.also)

    def screen(self, conn: Connection, verdict: Verdict, ip: str) -> Verdict:
        """A good login, checked against the IP lists (read, no lock)."""
        if verdict.login is not auth.Login.OK or verdict.ip_allowed is not None:
            return verdict
        assert verdict.row is not None
        allowed = self._ip_allowed(conn, verdict.row, verdict.settings, ip)
        return replace(verdict, ip_allowed=allowed)

    def settle(
        self, conn: Connection, verdict: Verdict, function: str, ip: str, now: datetime
    ) -> list[Outcome] | None:
        """Write the login's bookkeeping; the answer when the login is refused, else None."""
        user, login, row = verdict.user, verdict.login, verdict.row
        if login is None:
            return [Outcome(Kind.CREDENTIALS_CONFLICT, user=user)]
        if login is auth.Login.LOCKED:
            logins.login_locked(conn, user, ip)
            return [Outcome(Kind.LOCKED, function=function, user=user)]
        if login is not auth.Login.OK:
            if login is auth.Login.BAD and row is not None:
                new_window = auth.failure(row, now) is auth.Failure.NEW_WINDOW
                logins.login_failed(conn, row["user"], ip, now, new_window)
            return [Outcome(Kind.BAD_LOGIN, function=function, user=user)]
        assert row is not None
        if not verdict.ip_allowed:
            logins.login_ip_refused(conn, user, ip)
            return [Outcome(Kind.IP_REFUSED, function=function, user=user, value=ip)]
        record_login(conn, row, ip, now)
        return None

    def _failed(self, ip: str) -> None:
        if self.throttle is not None:
            self.throttle.failed(ip)

    def _ip_allowed(
        self, conn: Connection, row: CallerRow, settings: auth.LoginSettings, ip: str
    ) -> bool:
        black, allow = auth.ip_lists_to_check(row, settings)
        if not black and not allow:
            return True
        blacklist = logins.ip_list(conn, black) if black else None
        allow_list = logins.ip_list(conn, allow) if allow else None
        return auth.ip_allowed(ip, blacklist, allow_list)


def record_login(conn: Connection, row: CallerRow, ip: str, now: datetime) -> None:
    last = row.get("last_login_date")
    if (
        row.get("last_ip") == ip
        and not row.get("failed_login_count")
        and isinstance(last, datetime)
        and now - last < FRESH_LOGIN
    ):
        return  # only a timestamp under a minute old would change (README)
    logins.login_succeeded(conn, row["user"], ip, now)

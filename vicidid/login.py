"""Logging in, in two steps: check before any lock, then write the bookkeeping.

`Gate.check` reads the caller, the login settings and the IP lists on a connection that
holds no write lock, and checks the password (bcrypt for hashed ones, remembered once
right). Only then does the request open its write transaction, in which `Gate.settle`
writes what VICIdial writes on the user's row and answers a refused login. A failing
login therefore holds up writers only for its short UPDATE, never for its hashing.

The caller's row read in the first step is the one the whole request uses: a change to
it racing within milliseconds is as if the request had come first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from vicidid import auth
from vicidid.call import Policy
from vicidid.fields import PASS, USER
from vicidid.outcomes import Kind, Outcome
from vicidid.params import Params, strip_to
from vicidid.store import queries
from vicidid.throttle import LoginThrottle

FRESH_LOGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class Verdict:
    """What the check found: who, whether the login holds, and the rows read for it."""

    user: str  # the user name as given (answers show it through the dialect's filter)
    login: auth.Login | None  # None: conflicting credentials
    row: dict | None = None
    settings: auth.Settings = field(default_factory=auth.Settings)
    ip_allowed: bool = True

    @property
    def ok(self) -> bool:
        return self.login is auth.Login.OK and self.ip_allowed


class Gate:
    """The login of one server process: its verified-password cache and its throttle."""

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

    def check(
        self, conn: Connection, params: Params, basic: tuple[str, str] | None, ip: str, now
    ) -> Verdict:
        """Read and decide, writing nothing: run it before the write transaction."""
        user, password, conflict = self.credentials(params, basic)
        if conflict:
            self._failed(ip)
            return Verdict(user[:20], None)
        # Always read, even without a user name: the settings say what a check costs.
        row, settings_row = queries.caller_and_settings(conn, user)
        settings = auth.Settings.from_row(settings_row)
        login = auth.check_login(
            row, password, settings, now, self.policy.min_login_level, self.verified
        )
        if login is not auth.Login.OK:
            self._failed(ip)
            return Verdict(user[:20], login, row, settings)
        assert row is not None
        allowed = self._ip_allowed(conn, row, settings, ip)
        return Verdict(row["user"], login, row, settings, allowed)

    def settle(
        self, conn: Connection, verdict: Verdict, function: str, ip: str, now: datetime
    ) -> list[Outcome] | None:
        """Write the login's bookkeeping; the answer when the login is refused, else None."""
        user, login, row = verdict.user, verdict.login, verdict.row
        if login is None:
            return [Outcome(Kind.CREDENTIALS_CONFLICT, user=user)]
        if login is auth.Login.LOCKED:
            queries.login_locked(conn, user, ip)
            return [Outcome(Kind.LOCKED, function=function, user=user)]
        if login is not auth.Login.OK:
            if login is auth.Login.BAD and row is not None:
                new_window = auth.failure(row, now) is auth.Failure.NEW_WINDOW
                queries.login_failed(conn, row["user"], ip, now, new_window)
            return [Outcome(Kind.BAD_LOGIN, function=function, user=user)]
        assert row is not None
        if not verdict.ip_allowed:
            queries.login_ip_refused(conn, user, ip)
            return [Outcome(Kind.IP_REFUSED, function=function, user=user, value=ip)]
        record_login(conn, row, ip, now)
        return None

    def _failed(self, ip: str) -> None:
        if self.throttle is not None:
            self.throttle.failed(ip)

    def _ip_allowed(self, conn: Connection, row: dict, settings: auth.Settings, ip: str) -> bool:
        black, allow = auth.ip_lists_to_check(row, settings)
        if not black and not allow:
            return True
        blacklist = queries.ip_list(conn, black) if black else None
        allow_list = queries.ip_list(conn, allow) if allow else None
        return auth.ip_allowed(ip, blacklist, allow_list)


def record_login(conn: Connection, row: dict, ip: str, now: datetime) -> None:
    last = row.get("last_login_date")
    if (
        row.get("last_ip") == ip
        and not row.get("failed_login_count")
        and isinstance(last, datetime)
        and now - last < FRESH_LOGIN
    ):
        return  # only a timestamp under a minute old would change (README)
    queries.login_succeeded(conn, row["user"], ip, now)

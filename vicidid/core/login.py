"""Logging in, in steps: read, claim, check, then write the bookkeeping.

`Gate.read` reads the caller, the login settings and the address's throttle window on a
connection that holds no write lock. `Gate.quick` settles what needs no check: an address
over its throttle, a locked account, a password known right at once (plain, or a bcrypt
one this process verified before). Every other attempt is a guess, and `Gate.claim` counts
it — on the address's throttle window and on the account's failed_login_count, each with
one conditional UPDATE — before `Gate.verify` checks it (bcrypt on threads of the HTTP
edge's own when it must hash): guesses that arrive together count as if they came one by
one, in every worker and on every server of the database. `Gate.screen` reads the IP
lists; inside the request's write transaction `Gate.settle` writes what VICIdial writes on
the user's row, gives back the claim of an attempt that turned out right, and answers a
refused login. A failing login holds up writers only for its short UPDATEs, never for its
hashing.

The caller's row read in the first step is the one the whole request uses: a change to
it racing within milliseconds is as if the request had come first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from vicidid.auth import rules as auth
from vicidid.auth.hash_slots import Follow, Full, HashSlots, Lane, Ticket
from vicidid.auth.throttle import Limit, LoginThrottle, address_key
from vicidid.core.call import Policy
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Params, strip_to
from vicidid.fields import PASS, USER
from vicidid.rows import CallerRow
from vicidid.store.statements import logins
from vicidid.store.statements import throttle as windows
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
    address: str = ""  # what the throttle counts by (auth/throttle.py)
    failures: int | None = None  # the address's throttle window as read (None: no row)
    window_start: int | None = None

    @property
    def account(self) -> str:
        """The account a claim counts on: the caller's own name, or the name as given."""
        return self.row["user"] if self.row is not None else self.user


@dataclass(frozen=True)
class Claims:
    """What was counted before the check, to be given back if the attempt is right."""

    account: bool  # one more failed_login_count on the caller's row
    window: float | None  # the address's throttle window it counted in; None: not counted
    failure_written: bool = False  # a guess known wrong: its day's counts written with it


@dataclass(frozen=True)
class Verdict:
    """What the check found: who, whether the login holds, and the rows read for it."""

    user: str
    login: auth.Login | None  # None: conflicting credentials
    row: CallerRow | None = field(default=None, repr=False)  # holds pass and pass_hash
    settings: auth.LoginSettings = field(default_factory=auth.LoginSettings)
    ip_allowed: bool | None = None  # None: not looked at yet (IP lists are read for OK only)
    claims: Claims | None = None
    address: str = ""

    @property
    def admitted(self) -> bool:
        """A right password from an address the IP lists allow: the request runs."""
        return self.login is auth.Login.OK and bool(self.ip_allowed)


class Gate:
    """The login of one server process: its verified-password cache, the throttle, and
    the places for waiting hashes.

    In order: `read` (the database, no lock), `quick` (what needs no check), `claim` (its
    own short transaction), `verify` (CPU only: the hashing, which the HTTP edge runs on
    threads of its own), `screen` (the IP lists), then, inside the request's write
    transaction, `settle`.
    """

    def __init__(self, policy: Policy, limit: Limit | None = None) -> None:
        self.policy = policy
        self.limit = limit
        # Where the throttle counts: the database's table (shared), or, where the database
        # has none, this process (`use_memory`).
        self.memory: LoginThrottle | None = None
        self.verified = auth.VerifiedLogins()
        self.slots = HashSlots()
        self.clock = time.time

    @property
    def shared(self) -> bool:
        """Whether the throttle's counts live in the database."""
        return self.limit is not None and self.memory is None

    def use_memory(self) -> None:
        if self.limit is not None and self.memory is None:
            self.memory = LoginThrottle(self.limit)

    def throttled(self, ip: str) -> bool:
        """Refused without any read: over the limit in this process's own counts."""
        return self.memory is not None and self.memory.refused(address_key(ip))

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
    ) -> tuple[Attempt, list[dict[str, Any]] | None]:
        """The caller's row, the login settings and the address's throttle window, in one
        read that takes no lock; and the rows of `also`, a read that rides along in the
        same round trip (None when it was not sent)."""
        user, password, conflict = self.credentials(params, basic)
        address = address_key(ip)
        if conflict:
            return Attempt(user[:20], "", ip, conflict=True, address=address), None
        # Always read, even without a user name: the settings say what a check costs.
        found = logins.login_read(conn, user, also, address if self.shared else None)
        settings = auth.LoginSettings.from_row(found.settings)
        attempt = Attempt(
            user[:20],
            password,
            ip,
            False,
            found.caller,
            settings,
            address,
            found.failures,
            found.window_start,
        )
        return attempt, found.also

    def quick(self, attempt: Attempt, now: datetime) -> Verdict | None:
        """The verdict when no guess is checked; None for a guess, to claim first."""
        if attempt.conflict:
            return None
        if self.limit is not None and self.limit.reached(
            attempt.failures, attempt.window_start, self.clock()
        ):
            return self._refused(attempt, auth.Login.THROTTLED)
        row = attempt.row
        if row is not None and auth.is_locked(row, now):
            return self._refused(attempt, auth.Login.LOCKED)
        if self.costly(attempt, now):
            return None
        login = auth.check_login(
            row, attempt.password, attempt.settings, now, self.policy.min_login_level, self.verified
        )
        return self._verdict(attempt, login, None) if login is auth.Login.OK else None

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

    def reserve(self, attempt: Attempt, follow: bool = True) -> Ticket | Follow | Verdict:
        """A place among the hashes waiting, the same check under way already (to wait
        for, when `follow`), or the answer when there is no place."""
        row = attempt.row
        returning = (
            row is not None
            and not row.get("failed_login_count")
            and row.get("last_ip") == attempt.ip
        )
        lane = Lane.RETURNING if returning else Lane.OTHERS
        stored = (row.get("pass_hash") or "") if row is not None else ""
        same = self.verified.key(attempt.account, stored, attempt.password) if follow else None
        ticket = self.slots.reserve(attempt.address, attempt.account, lane, same)
        if isinstance(ticket, Full):
            login = auth.Login.BUSY if ticket is Full.IN_ALL else auth.Login.THROTTLED
            return self._refused(attempt, login)
        return ticket

    def claim(
        self, conn: Connection, attempt: Attempt, now: datetime, wrong: bool = False
    ) -> Claims | Verdict:
        """Count a guess before it is checked: on the address, then on the account.

        The claims, or the refusal when the address is over its limit or the account
        locked by guesses counted since the read. Run in a transaction of its own, which
        commits before any hashing. `wrong`: the guess is known wrong already (a plain
        password), and its whole failure is written here."""
        seen = attempt.window_start if attempt.failures is not None else None
        address = self.claim_address(conn, attempt.address, seen)
        if address is None:
            return self._refused(attempt, auth.Login.THROTTLED)
        window = address.window
        if attempt.conflict:
            return Claims(False, window)
        # Unknown users run the same statement: it finds no row, at the same cost.
        failed_from = attempt.ip if wrong else ""
        counted = logins.claim(conn, attempt.account, now, auth.LOCK_FOR, failed_from)
        if attempt.row is not None and not counted:
            return self._refused(attempt, auth.Login.LOCKED, Claims(False, window))
        return Claims(attempt.row is not None and counted, window, wrong)

    def claim_address(
        self, conn: Connection | None, address: str, seen: int | None = None
    ) -> Claims | None:
        """Count an attempt on its address's throttle window; None when over the limit.

        `seen`: the window's start as the login's read found it (None: not read). Also for
        a request passed on to VICIdial's PHP, which checks the password itself. `conn`:
        None where the counts are not the database's (`shared`)."""
        if self.limit is None:
            return Claims(False, None)
        if self.memory is not None:
            window: float | None = self.memory.claim(address)
        else:
            assert conn is not None
            window = windows.claim(conn, address, int(self.clock()), self.limit, seen)
        return None if window is None else Claims(False, window)

    def give_back(self, conn: Connection | None, address: str, claims: Claims | None) -> None:
        """The attempt was no failure: its address's claim goes back."""
        if claims is None or claims.window is None:
            return
        if self.memory is not None:
            self.memory.release(address, claims.window)
        else:
            assert conn is not None
            windows.release(conn, address, int(claims.window))

    def verify(self, attempt: Attempt, now: datetime, claims: Claims | None = None) -> Verdict:
        """Check the password (the costly part: no connection or lock is held for it)."""
        if attempt.conflict:
            return Verdict(attempt.user, None, claims=claims, address=attempt.address)
        login = auth.check_login(
            attempt.row,
            attempt.password,
            attempt.settings,
            now,
            self.policy.min_login_level,
            self.verified,
        )
        return self._verdict(attempt, login, claims)

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
        user, login, row, claims = verdict.user, verdict.login, verdict.row, verdict.claims
        if login is None:
            return [Outcome(Kind.CREDENTIALS_CONFLICT, user=user)]
        if login is auth.Login.THROTTLED or login is auth.Login.BUSY:
            kind = Kind.THROTTLED if login is auth.Login.THROTTLED else Kind.BUSY
            return [Outcome(kind, function=function, user=user)]
        if login is auth.Login.LOCKED:
            logins.login_locked(conn, user, ip)
            return [Outcome(Kind.LOCKED, function=function, user=user)]
        if login is not auth.Login.OK:
            # counted by the claim already; an unknown name runs the same UPDATE, on no row
            if claims is None or not claims.failure_written:
                logins.login_failed(conn, row["user"] if row is not None else user, ip)
            return [Outcome(Kind.BAD_LOGIN, function=function, user=user)]
        assert row is not None
        self.give_back(conn, verdict.address, claims)  # a right password is no failure
        if not verdict.ip_allowed:
            if claims is not None and claims.account:
                logins.unclaim(conn, row, now)
            logins.login_ip_refused(conn, user, ip)
            return [Outcome(Kind.IP_REFUSED, function=function, user=user, value=ip)]
        record_login(conn, row, ip, now, claims is not None and claims.account)
        return None

    def _refused(
        self, attempt: Attempt, login: auth.Login, claims: Claims | None = None
    ) -> Verdict:
        return Verdict(attempt.user, login, attempt.row, claims=claims, address=attempt.address)

    def _verdict(self, attempt: Attempt, login: auth.Login, claims: Claims | None) -> Verdict:
        if login is not auth.Login.OK:
            return Verdict(
                attempt.user,
                login,
                attempt.row,
                attempt.settings,
                claims=claims,
                address=attempt.address,
            )
        assert attempt.row is not None
        return Verdict(
            attempt.row["user"],
            login,
            attempt.row,
            attempt.settings,
            claims=claims,
            address=attempt.address,
        )

    def _ip_allowed(
        self, conn: Connection, row: CallerRow, settings: auth.LoginSettings, ip: str
    ) -> bool:
        black, allow = auth.ip_lists_to_check(row, settings)
        if not black and not allow:
            return True
        blacklist = logins.ip_list(conn, black) if black else None
        allow_list = logins.ip_list(conn, allow) if allow else None
        return auth.ip_allowed(ip, blacklist, allow_list)


def record_login(
    conn: Connection, row: CallerRow, ip: str, now: datetime, claimed: bool = False
) -> None:
    last = row.get("last_login_date")
    if (
        not claimed
        and row.get("last_ip") == ip
        and not row.get("failed_login_count")
        and isinstance(last, datetime)
        and now - last < FRESH_LOGIN
    ):
        return  # only a timestamp under a minute old would change (README)
    logins.login_succeeded(conn, row["user"], ip, now)

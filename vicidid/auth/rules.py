"""Who may do what: login, lockout, IP lists, function and DID permissions.

Every function here decides from plain values (a user row, the system settings, a
time); reading and writing those rows is the caller's job.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vicidid.auth import passhash
from vicidid.rows import CallerRow, SettingsRow

LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)


class Login(enum.Enum):
    OK = "ok"
    BAD = "bad"  # counts as a failed login
    UNKNOWN = "unknown"  # no such user: nothing to count
    LOCKED = "locked"
    # not checked at all: vicidid's limits, beyond VICIdial's
    THROTTLED = "throttled"  # the address is over its limit, or has too many checks waiting
    BUSY = "busy"  # too many checks waiting in all


class Failure(enum.Enum):
    """What a failed login writes on the user's row (VICIdial's three branches)."""

    COUNT = "count"  # under ten failures: one more
    NEW_WINDOW = "new_window"  # ten or more, but the window is over: a new one, count 1
    LOCKED = "locked"  # ten or more within the window: refused, only the day's attempts count


@dataclass(frozen=True)
class LoginSettings:
    """The system_settings values that matter for logging in."""

    pass_hash_enabled: bool = False
    pass_key: str = field(default="", repr=False)  # the hashing key never shows in a repr
    pass_cost: int = 2
    allow_ip_lists: int = 0
    system_ip_blacklist: str = ""

    @classmethod
    def from_row(cls, row: SettingsRow) -> LoginSettings:
        return cls(
            pass_hash_enabled=_int(row.get("pass_hash_enabled")) > 0,
            pass_key=row.get("pass_key") or "",
            pass_cost=_int(row.get("pass_cost"), 2),
            allow_ip_lists=_int(row.get("allow_ip_lists")),
            system_ip_blacklist=row.get("system_ip_blacklist") or "",
        )


def _int(value: str | int | None, default: int = 0) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class VerifiedLogins:
    """Remembers passwords already verified against a stored bcrypt hash, per process.

    The key holds the user, the stored hash and a keyed digest of the password, never the
    password: a changed password changes the stored hash and misses the cache, and
    everything else about the user is read fresh on every request anyway.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._secret = secrets.token_bytes(32)
        self._seen: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()
        self._size = size
        # request threads share the cache: each look-up and each insertion (with its
        # eviction) happens whole; the hashing itself runs outside the lock
        self._lock = threading.Lock()

    def key(self, user: str, stored: str, password: str) -> tuple[str, str, bytes]:
        digest = hmac.digest(self._secret, password.encode(), "sha256")  # one C call
        return (user, stored, digest)

    def known(self, user: str, password: str, stored: str) -> bool:
        """Whether this password was verified against this stored hash already."""
        key = self.key(user, stored, password)
        with self._lock:
            return key in self._seen

    def verify(self, user: str, password: str, stored: str, settings: LoginSettings) -> bool:
        key = self.key(user, stored, password)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
        ok = passhash.verify_password(password, stored, settings.pass_key, settings.pass_cost)
        if ok:
            with self._lock:
                self._seen[key] = None
                while len(self._seen) > self._size:
                    self._seen.popitem(last=False)
        return ok


def is_locked(row: CallerRow, now: datetime) -> bool:
    """VICIdial's lockout: ten failures, and the last login under 15 minutes old.

    A login may succeed while fewer than ten failures are counted, or once the last login
    (or the start of the last window of failures) is more than 15 minutes old.
    """
    if _int(row.get("failed_login_count")) < LOCK_AFTER:
        return False
    last = row.get("last_login_date")
    # NULL counts as long ago; a zero date comes back from some drivers as text
    return isinstance(last, datetime) and last >= now - LOCK_FOR


def failure(row: CallerRow, now: datetime) -> Failure:
    """What a failed login does to the user's row, as VICIdial decides it.

    Ten failures with a stale last login do not lock: they start a new 15-minute window
    (last_login_date becomes now, the count 1), so an account nobody logged into lately
    locks after about twenty failures instead of never.
    """
    if _int(row.get("failed_login_count")) < LOCK_AFTER:
        return Failure.COUNT
    return Failure.LOCKED if is_locked(row, now) else Failure.NEW_WINDOW


# What an unknown user's password is checked against, so that a wrong guess costs the
# same whether the user exists or not (user names cannot be told apart by timing).
DUMMY_HASH = "." * passhash.STORED_LENGTH
DUMMY_PASS = secrets.token_bytes(16)


def password_matches(
    row: CallerRow | None, password: str, settings: LoginSettings, verified: VerifiedLogins
) -> bool:
    """The password against the user's own, or against a dummy at the same cost."""
    if settings.pass_hash_enabled:
        stored = (row.get("pass_hash") if row else None) or ""
        if row is None or len(stored) != passhash.STORED_LENGTH:
            passhash.verify_password(password, DUMMY_HASH, settings.pass_key, settings.pass_cost)
            return False
        return verified.verify(row["user"], password, stored, settings)
    if row is None:
        hmac.compare_digest(DUMMY_PASS, password.encode())
        return False
    return hmac.compare_digest((row.get("pass") or "").encode(), password.encode())


def check_login(
    row: CallerRow | None,
    password: str,
    settings: LoginSettings,
    now: datetime,
    min_level: int,
    verified: VerifiedLogins,
) -> Login:
    """Decide a login. A locked account is refused before its password is looked at (its
    answer says it exists anyway); every other one costs a full password check."""
    if row is not None and is_locked(row, now):
        return Login.LOCKED
    if not password:
        return Login.UNKNOWN if row is None else Login.BAD
    good = password_matches(row, password, settings, verified)
    if row is None:
        return Login.UNKNOWN
    if not good or row.get("active") != "Y" or _int(row.get("user_level")) < min_level:
        return Login.BAD
    return Login.OK


def ip_matches(ip: str, entries: list[str]) -> bool:
    """An entry matches the address itself, or a class-C block when it ends in `.x`."""
    for entry in entries:
        entry = entry.strip()
        if entry.endswith(".x"):
            if ip.startswith(entry[:-1]):
                return True
        elif entry == ip:
            return True
    return False


def ip_lists_to_check(row: CallerRow, settings: LoginSettings) -> tuple[str, str]:
    """(blacklist id, allow-list id) that apply to this user; '' where none applies."""
    if settings.allow_ip_lists not in (1, 2):
        return "", ""
    if str(row.get("ignore_ip_list") or "0") == "1":
        return "", ""  # the user skips every IP check, the system blacklist included
    return settings.system_ip_blacklist.strip(), (row.get("api_ip_list") or "").strip()


def ip_allowed(ip: str, blacklist: list[str] | None, allow: list[str] | None) -> bool:
    if blacklist and ip_matches(ip, blacklist):
        return False
    return allow is None or ip_matches(ip, allow)


def function_allowed(row: CallerRow, function: str) -> bool:
    allowed = f" {row.get('api_allowed_functions') or ''} "
    return " ALL_FUNCTIONS " in allowed or f" {function} " in allowed


def may_use(row: CallerRow, changes_dids: bool) -> bool:
    """API access and level 8, plus the modify flag for a function that changes DIDs."""
    if str(row.get("vdc_agent_api_access")) != "1" or _int(row.get("user_level")) < 8:
        return False
    if row.get("active") != "Y":
        return False
    return not changes_dids or str(row.get("modify_inbound_dids")) == "1"


def may_delete(row: CallerRow) -> bool:
    return str(row.get("delete_inbound_dids")) == "1"


def viewable_groups(row: CallerRow) -> set[str] | None:
    """The user groups whose DIDs this caller sees; None means all of them."""
    text = row.get("admin_viewable_groups") or ""
    if "--ALL--" in text.upper():
        return None
    groups = text.split()
    return {g for g in groups if g != "-"} | {"---ALL---"}


def sees(row: CallerRow, did_user_group: str | None) -> bool:
    groups = viewable_groups(row)
    return groups is None or did_user_group in groups

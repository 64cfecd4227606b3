"""Login, lockout, IP lists and permissions as plain decisions, without HTTP or a database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from vicidid.auth import passhash
from vicidid.auth import rules as auth

NOW = datetime(2026, 11, 23, 12, 0, 0)
KEY = "0123456789abcdef"


def user(**over) -> dict:
    row = {
        "user": "6666",
        "pass": "1234",
        "pass_hash": "",
        "user_level": 9,
        "active": "Y",
        "failed_login_count": 0,
        "last_login_date": NOW - timedelta(hours=1),
        "vdc_agent_api_access": "1",
        "modify_inbound_dids": "1",
        "delete_inbound_dids": "0",
        "api_allowed_functions": " ALL_FUNCTIONS ",
        "admin_viewable_groups": " ---ALL--- ",
        "api_ip_list": "",
        "ignore_ip_list": "0",
    }
    row.update(over)
    return row


PLAIN = auth.LoginSettings()
HASHED = auth.LoginSettings(pass_hash_enabled=True, pass_key=KEY, pass_cost=4)


def login(row, password="1234", settings=PLAIN, min_level=1, verified=None):
    return auth.check_login(
        row, password, settings, NOW, min_level, verified or auth.VerifiedLogins()
    )


def test_plain_password():
    assert login(user()) is auth.Login.OK
    assert login(user(), "12345") is auth.Login.BAD
    assert login(user(), "") is auth.Login.BAD
    assert login(None) is auth.Login.UNKNOWN


def test_inactive_or_too_low_counts_as_bad():
    assert login(user(active="N")) is auth.Login.BAD
    assert login(user(user_level=6), min_level=7) is auth.Login.BAD
    assert login(user(user_level=7), min_level=7) is auth.Login.OK
    assert login(user(user_level=0), min_level=1) is auth.Login.BAD


def test_hashed_password_written_by_vicidial_verifies():
    stored = passhash.hash_password("1234", KEY, 4)
    assert login(user(pass_hash=stored, **{"pass": ""}), settings=HASHED) is auth.Login.OK
    assert login(user(pass_hash=stored), "nope", settings=HASHED) is auth.Login.BAD
    # with hashing on, the plain column is not looked at
    assert login(user(pass_hash=""), settings=HASHED) is auth.Login.BAD


def test_verified_login_cache_follows_the_stored_hash():
    verified = auth.VerifiedLogins()
    stored = passhash.hash_password("1234", KEY, 4)
    assert login(user(pass_hash=stored), settings=HASHED, verified=verified) is auth.Login.OK
    assert len(verified._seen) == 1
    assert all("1234" not in str(k) for k in verified._seen)  # never the password itself
    changed = passhash.hash_password("5678", KEY, 4)
    assert login(user(pass_hash=changed), settings=HASHED, verified=verified) is auth.Login.BAD
    assert (
        login(user(pass_hash=changed), "5678", settings=HASHED, verified=verified) is auth.Login.OK
    )
    # the cache never skips the other checks
    assert (
        login(user(pass_hash=changed, active="N"), "5678", settings=HASHED, verified=verified)
        is auth.Login.BAD
    )


@pytest.mark.parametrize(
    ("count", "last_login_ago", "locked"),
    [
        (9, timedelta(minutes=1), False),
        (10, timedelta(minutes=1), True),
        (10, timedelta(minutes=14, seconds=59), True),
        (10, timedelta(minutes=15, seconds=1), False),
        (25, timedelta(minutes=5), True),
    ],
)
def test_lockout(count, last_login_ago, locked):
    row = user(failed_login_count=count, last_login_date=NOW - last_login_ago)
    assert auth.is_locked(row, NOW) is locked
    assert (login(row) is auth.Login.LOCKED) is locked


def test_locked_even_with_the_right_password():
    row = user(failed_login_count=10, last_login_date=NOW)
    assert login(row) is auth.Login.LOCKED


@pytest.mark.parametrize(
    ("ip", "entries", "match"),
    [
        ("10.1.2.3", ["10.1.2.3"], True),
        ("10.1.2.3", ["10.1.2.4"], False),
        ("10.1.2.3", ["10.1.2.x"], True),
        ("10.1.22.3", ["10.1.2.x"], False),
        ("10.1.2.3", [" 10.1.2.3 "], True),
        ("10.1.2.3", [], False),
    ],
)
def test_ip_matches(ip, entries, match):
    assert auth.ip_matches(ip, entries) is match


def test_ip_lists_apply_only_when_enabled():
    row = user(api_ip_list="OFFICE")
    assert auth.ip_lists_to_check(row, PLAIN) == ("", "")
    on = auth.LoginSettings(allow_ip_lists=1, system_ip_blacklist="BAD")
    assert auth.ip_lists_to_check(row, on) == ("BAD", "OFFICE")
    # ignore_ip_list skips every IP check, the system blacklist included
    assert auth.ip_lists_to_check(user(api_ip_list="OFFICE", ignore_ip_list="1"), on) == ("", "")


def test_ip_allowed():
    assert auth.ip_allowed("1.2.3.4", None, None)
    assert not auth.ip_allowed("1.2.3.4", ["1.2.3.x"], None)
    assert auth.ip_allowed("1.2.3.4", None, ["1.2.3.4"])
    assert not auth.ip_allowed("1.2.3.5", None, ["1.2.3.4"])
    assert not auth.ip_allowed("1.2.3.4", ["1.2.3.4"], ["1.2.3.4"])
    assert not auth.ip_allowed("1.2.3.4", None, [])  # an empty allow-list allows nobody


@pytest.mark.parametrize(
    ("functions", "allowed"),
    [
        (" ALL_FUNCTIONS ", True),
        (" update_did ", True),
        (" copy_did update_did ", True),
        (" add_lead ", False),
        (" update_didx ", False),
        ("", False),
        (None, False),
    ],
)
def test_function_allowed(functions, allowed):
    assert auth.function_allowed(user(api_allowed_functions=functions), "update_did") is allowed


@pytest.mark.parametrize(
    ("over", "changes_dids", "ok"),
    [
        ({}, True, True),
        ({"user_level": 7}, True, False),
        ({"vdc_agent_api_access": "0"}, True, False),
        ({"vdc_agent_api_access": 1}, True, True),
        ({"modify_inbound_dids": "0"}, True, False),
        ({"modify_inbound_dids": "0"}, False, True),
        ({"active": "N"}, False, False),
    ],
)
def test_may_use(over, changes_dids, ok):
    assert auth.may_use(user(**over), changes_dids) is ok


@pytest.mark.parametrize(
    ("viewable", "did_group", "sees"),
    [
        (" ---ALL--- ", "OTHER", True),
        (" --all-- ", "OTHER", True),
        (" SALES -", "SALES", True),
        (" SALES -", "---ALL---", True),
        (" SALES -", "OTHER", False),
        (" SALES -", None, False),
        ("", "---ALL---", True),
        ("", "SALES", False),
    ],
)
def test_visibility(viewable, did_group, sees):
    assert auth.sees(user(admin_viewable_groups=viewable), did_group) is sees


@pytest.mark.parametrize(
    ("count", "last_login", "failure"),
    [
        (0, NOW, auth.Failure.COUNT),
        (9, NOW - timedelta(days=1), auth.Failure.COUNT),
        (10, NOW - timedelta(minutes=5), auth.Failure.LOCKED),
        (10, NOW - timedelta(minutes=15, seconds=1), auth.Failure.NEW_WINDOW),
        (12, None, auth.Failure.NEW_WINDOW),  # never logged in: the window is long over
        (10, "0000-00-00 00:00:00", auth.Failure.NEW_WINDOW),  # a zero date, as text
    ],
)
def test_what_a_failed_login_writes(count, last_login, failure):
    row = user(failed_login_count=count, last_login_date=last_login)
    assert auth.failure(row, NOW) is failure
    assert auth.is_locked(row, NOW) is (failure is auth.Failure.LOCKED)


def test_a_stale_lock_lets_the_right_password_in():
    row = user(failed_login_count=10, last_login_date=None)
    assert login(row) is auth.Login.OK
    assert login(row, "wrong") is auth.Login.BAD


def test_unknown_users_are_checked_against_a_dummy():
    assert login(None, "1234", settings=HASHED) is auth.Login.UNKNOWN
    assert login(None, "", settings=HASHED) is auth.Login.UNKNOWN
    assert not auth.password_matches(None, "1234", HASHED, auth.VerifiedLogins())
    assert not auth.password_matches(None, "1234", PLAIN, auth.VerifiedLogins())
    # a user without a usable hash is no shortcut either
    assert not auth.password_matches(user(pass_hash="short"), "1234", HASHED, auth.VerifiedLogins())

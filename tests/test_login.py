"""Login end to end: lockout bookkeeping as VICIdial keeps it, IP lists, Basic auth."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import serve

Q = "function=update_did&user=6666&pass={pw}&source=test&did_pattern=18001234567&active=N"


def user_row(engine, user="6666") -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.text("SELECT * FROM vicidial_users WHERE user=:u"), {"u": user})
            .mappings()
            .one()
        )


def execute(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


@pytest.fixture
def vici(demo_engine):
    with serve(demo_engine, dialect="vicidial") as server:
        yield server


def test_failed_logins_are_counted_then_locked(vici):
    engine = vici.engine
    for n in range(1, 11):
        r = vici.get(Q.format(pw="wrong"))
        assert r.text == "ERROR: Login incorrect, please try again: |6666||BAD|\n"
        row = user_row(engine)
        assert row["failed_login_count"] == n
        assert row["failed_last_type_today"] == "aBAD"
        assert row["failed_last_ip_today"] == "127.0.0.1"
    # the demo's last successful login is unset; lock needs one under 15 minutes old
    execute(
        engine,
        "UPDATE vicidial_users SET last_login_date=:d WHERE user='6666'",
        d=user_row(engine)["last_login_date"] or __import__("datetime").datetime.now(),
    )
    for pw in ("wrong", "1234"):
        r = vici.get(Q.format(pw=pw))
        assert r.text == "ERROR: Too many login attempts, try again in 15 minutes: |6666|LOCK|\n"
    row = user_row(engine)
    assert row["failed_login_count"] == 10  # not incremented while locked
    assert row["failed_last_type_today"] == "aLOCK"
    assert vici.did("18001234567")["did_active"] == "Y"
    with engine.connect() as conn:  # failed logins write no api_log row
        assert conn.execute(sa.text("SELECT COUNT(*) FROM vicidial_api_log")).scalar_one() == 0


def test_success_resets_the_count_and_records_the_login(vici):
    vici.get(Q.format(pw="wrong"))
    assert user_row(vici.engine)["failed_login_count"] == 1
    r = vici.get(Q.format(pw="1234"))
    assert r.text == "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n"
    row = user_row(vici.engine)
    assert row["failed_login_count"] == 0
    assert row["last_ip"] == "127.0.0.1"
    assert row["last_login_date"] is not None


def test_vicidial_dialect_filters_user_and_pass(vici):
    r = vici.get(Q.format(pw="12'34"))
    assert r.text == "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n"


def test_simple_dialect_compares_them_as_given(live):
    r = live.get(Q.format(pw="12'34"))
    assert r.text == "ERROR: INVALID USERNAME OR PASSWORD\n"


def test_level_below_7_cannot_log_in_with_vicidial_words(vici):
    r = vici.get(Q.replace("user=6666", "user=1001").format(pw="1234"))
    assert r.text == "ERROR: Login incorrect, please try again: |1001||BAD|\n"
    assert user_row(vici.engine, "1001")["failed_login_count"] == 1


def test_disabled_user_and_changed_password_take_effect_at_once(live):
    ok = "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert live.get(Q.format(pw="1234")).text == ok
    execute(live.engine, "UPDATE vicidial_users SET active='N' WHERE user='6666'")
    assert live.get(Q.format(pw="1234")).text == "ERROR: INVALID USERNAME OR PASSWORD\n"
    execute(live.engine, "UPDATE vicidial_users SET active='Y' WHERE user='6666'")
    assert live.get(Q.format(pw="1234")).text == ok
    execute(live.engine, "UPDATE vicidial_users SET modify_inbound_dids='0' WHERE user='6666'")
    assert live.get(Q.format(pw="1234")).text == (
        "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION\n"
    )
    execute(live.engine, "UPDATE vicidial_users SET modify_inbound_dids='1' WHERE user='6666'")
    from vicidid import admin

    with live.engine.begin() as conn:
        admin.set_user(conn, "6666", "5678", admin.UserFlags())
    assert live.get(Q.format(pw="1234")).text == "ERROR: INVALID USERNAME OR PASSWORD\n"
    assert live.get(Q.format(pw="5678")).text == ok


def test_basic_auth(live):
    q = "function=update_did&source=test&did_pattern=18001234567&did_active=N"
    assert live.get(q, auth=("6666", "1234")).text == (
        "SUCCESS: 18001234567 | DID Updated Successfully\n"
    )
    assert live.get(q, auth=("6666", "nope")).text == "ERROR: INVALID USERNAME OR PASSWORD\n"
    assert live.get(q + "&user=6666&pass=1234", auth=("6666", "1234")).text.startswith("SUCCESS")
    assert live.get(q + "&user=admin", auth=("6666", "1234")).text == (
        "ERROR: CONFLICTING CREDENTIALS\n"
    )
    assert live.get(q + "&pass=9999", auth=("6666", "1234")).text == (
        "ERROR: CONFLICTING CREDENTIALS\n"
    )
    broken = {"Authorization": "Basic !!!notbase64"}
    assert live.get(q, headers=broken).text == "ERROR: INVALID USERNAME OR PASSWORD\n"


def _ip_lists(engine, blacklist: str = "", allow: str = "", entries=()) -> None:
    execute(
        engine, "UPDATE system_settings SET allow_ip_lists=1, system_ip_blacklist=:b", b=blacklist
    )
    execute(
        engine, "UPDATE vicidial_user_groups SET api_ip_list=:a WHERE user_group='ADMIN'", a=allow
    )
    with engine.begin() as conn:
        for list_id, ip in entries:
            conn.execute(
                sa.text(
                    "INSERT INTO vicidial_ip_lists (ip_list_id, ip_list_name, active)"
                    " SELECT :l, :l, 'Y' WHERE NOT EXISTS (SELECT 1 FROM "
                    "vicidial_ip_lists WHERE ip_list_id=:l)"
                ),
                {"l": list_id},
            )
            conn.execute(
                sa.text("INSERT INTO vicidial_ip_list_entries VALUES (:l, :ip)"),
                {"l": list_id, "ip": ip},
            )


@pytest.mark.parametrize(
    ("blacklist", "allow", "entries", "allowed"),
    [
        ("", "OFFICE", [("OFFICE", "127.0.0.1")], True),
        ("", "OFFICE", [("OFFICE", "127.0.0.x")], True),
        ("", "OFFICE", [("OFFICE", "10.0.0.1")], False),
        ("BAD", "", [("BAD", "127.0.0.x")], False),
        ("BAD", "", [("BAD", "10.0.0.1")], True),
    ],
)
def test_ip_lists(live, blacklist, allow, entries, allowed):
    _ip_lists(live.engine, blacklist, allow, entries)
    r = live.get(Q.format(pw="1234"))
    if allowed:
        assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    else:
        assert r.text == "ERROR: IP ADDRESS NOT ALLOWED | 127.0.0.1\n"
        assert live.did("18001234567")["did_active"] == "Y"


def test_ip_refused_in_vicidial_words(vici):
    _ip_lists(vici.engine, "", "OFFICE", [("OFFICE", "10.0.0.1")])
    assert vici.get(Q.format(pw="1234")).text == (
        "ERROR: Your IP Address is not allowed: 127.0.0.1: ||IPBLOCK|\n"
    )


def test_ignore_ip_list_user_skips_the_allow_list(live):
    _ip_lists(live.engine, "", "OFFICE", [("OFFICE", "10.0.0.1")])
    execute(live.engine, "UPDATE vicidial_users SET ignore_ip_list='1' WHERE user='6666'")
    assert live.get(Q.format(pw="1234")).text.startswith("SUCCESS")


def test_forwarded_for_only_from_trusted_proxies(demo_engine):
    _ip_lists(demo_engine, "BAD", "", [("BAD", "203.0.113.9")])
    header = {"X-Forwarded-For": "203.0.113.9"}
    with serve(demo_engine) as untrusted:
        assert untrusted.get(Q.format(pw="1234"), headers=header).text.startswith("SUCCESS")
    with serve(demo_engine, trusted_proxies=("127.0.0.1",)) as behind_proxy:
        assert behind_proxy.get(Q.format(pw="1234"), headers=header).text == (
            "ERROR: IP ADDRESS NOT ALLOWED | 203.0.113.9\n"
        )


def test_hash_written_by_vicidial_at_its_default_cost_logs_in(vici):
    """VICIdial's own hash of 1234 with pass_key 0123456789abcdef at cost 2."""
    execute(
        vici.engine,
        "UPDATE system_settings SET pass_hash_enabled=1, pass_key='0123456789abcdef', pass_cost=2",
    )
    execute(
        vici.engine,
        "UPDATE vicidial_users SET pass='', "
        "pass_hash='ZTpQ8cNrtrbzVhQroLyPsmOEb8xk4LO' WHERE user='6666'",
    )
    assert vici.get(Q.format(pw="1234")).text == (
        "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n"
    )
    assert vici.get(Q.format(pw="4321")).text == (
        "ERROR: Login incorrect, please try again: |6666||BAD|\n"
    )
    # and a hash vicidid writes is the one VICIdial would write
    from vicidid import admin

    with vici.engine.begin() as conn:
        admin.set_user(conn, "6666", "1234", admin.UserFlags())
    assert user_row(vici.engine)["pass_hash"] == "ZTpQ8cNrtrbzVhQroLyPsmOEb8xk4LO"

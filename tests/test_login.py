"""Login end to end: lockout bookkeeping as VICIdial keeps it, IP lists, Basic auth."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import serve
from vicidid.auth import passhash
from vicidid.auth import rules as auth
from vicidid.auth.hash_slots import HashSlots
from vicidid.auth.throttle import Limit
from vicidid.cli import admin
from vicidid.core.call import POLICIES
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Pipeline

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
        d=user_row(engine)["last_login_date"] or datetime.now(),
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
    with live.engine.begin() as conn:
        admin.set_user(conn, "6666", "5678", admin.UserFlags())
    assert live.get(Q.format(pw="1234")).text == "ERROR: INVALID USERNAME OR PASSWORD\n"
    assert live.get(Q.format(pw="5678")).text == ok


def test_basic_auth(live):
    q = "function=update_did&source=test&did_pattern=18001234567&active=N"
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
    with vici.engine.begin() as conn:
        admin.set_user(conn, "6666", "1234", admin.UserFlags())
    assert user_row(vici.engine)["pass_hash"] == "ZTpQ8cNrtrbzVhQroLyPsmOEb8xk4LO"


# --- VICIdial's lockout, stale window included -------------------------------------------

LOCK_LINE = "ERROR: Too many login attempts, try again in 15 minutes: |6666|LOCK|\n"
BAD_LINE = "ERROR: Login incorrect, please try again: |6666||BAD|\n"
UPDATED_LINE = "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n"


def set_lock_state(engine, count: int, ago: timedelta | None) -> None:
    last = None if ago is None else datetime.now().replace(microsecond=0) - ago
    execute(
        engine,
        "UPDATE vicidial_users SET failed_login_count=:c, last_login_date=:d, "
        "failed_last_type_today='', failed_login_attempts_today=0 WHERE user='6666'",
        c=count,
        d=last,
    )


def fresh(value) -> bool:
    if isinstance(value, str):  # SQLite hands raw SQL's dates back as text
        value = datetime.fromisoformat(value)
    return isinstance(value, datetime) and datetime.now() - value < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("count", "ago", "password", "answer", "count_after", "type_after", "date_fresh"),
    [
        # ten failures, window over: a wrong password starts a new window
        (10, timedelta(minutes=20), "wrong", BAD_LINE, 1, "aBAD", True),
        (10, timedelta(minutes=20), "1234", UPDATED_LINE, 0, "", True),
        (10, timedelta(minutes=16), "1234", UPDATED_LINE, 0, "", True),
        # ten failures within 15 minutes: locked, right password or not
        (10, timedelta(minutes=5), "wrong", LOCK_LINE, 10, "aLOCK", False),
        (10, timedelta(minutes=5), "1234", LOCK_LINE, 10, "aLOCK", False),
        (10, timedelta(minutes=14), "1234", LOCK_LINE, 10, "aLOCK", False),
        # under ten: counted, or cleared by a right password
        (9, timedelta(minutes=5), "wrong", BAD_LINE, 10, "aBAD", False),
        (9, timedelta(minutes=5), "1234", UPDATED_LINE, 0, "", True),
        (0, None, "wrong", BAD_LINE, 1, "aBAD", False),
        # no last login at all counts as long ago
        (10, None, "wrong", BAD_LINE, 1, "aBAD", True),
    ],
)
def test_lockout_branches(vici, count, ago, password, answer, count_after, type_after, date_fresh):
    set_lock_state(vici.engine, count, ago)
    q = "function=update_did&user=6666&pass={pw}&source=test&did_pattern=18001234567"
    assert vici.get(q.format(pw=password) + "&did_description=Lockout%20test").text == answer
    row = user_row(vici.engine)
    assert row["failed_login_count"] == count_after
    assert row["failed_last_type_today"] == type_after
    assert fresh(row["last_login_date"]) is date_fresh
    assert row["failed_login_attempts_today"] == (0 if answer == UPDATED_LINE else 1)


@pytest.mark.parametrize("dialect", ["vicidial", "simple"])
def test_an_idle_account_locks_after_twenty_failures_and_unlock_frees_it(demo_engine, dialect):
    set_lock_state(demo_engine, 0, timedelta(days=30))
    locked = (
        LOCK_LINE
        if dialect == "vicidial"
        else ("ERROR: ACCOUNT LOCKED | too many failed logins, try again in 15 minutes\n")
    )
    with serve(demo_engine, dialect=dialect) as server:
        for n in range(1, 21):
            assert server.get(Q.format(pw="wrong")).text != locked, n
            row = user_row(demo_engine)
            assert row["failed_login_count"] == (n if n <= 10 else n - 10), n
        # the eleventh failure opened a fresh 15-minute window, and ten more filled it
        assert fresh(row["last_login_date"])
        assert server.get(Q.format(pw="1234")).text == locked
        assert server.get(Q.format(pw="wrong")).text == locked
        assert server.did("18001234567")["did_active"] == "Y"
        row = user_row(demo_engine)
        assert row["failed_login_count"] == 10
        assert row["failed_login_attempts_today"] == 22
        assert row["failed_login_count_today"] == 20
        with demo_engine.begin() as conn:
            admin.unlock_user(conn, "6666")
        assert server.get(Q.format(pw="1234")).text.startswith("SUCCESS")
    assert server.did("18001234567")["did_active"] == "N"
    assert user_row(demo_engine)["failed_login_count"] == 0


def test_ip_refusal_is_noted_without_counting_a_failure(vici):
    _ip_lists(vici.engine, "", "OFFICE", [("OFFICE", "10.0.0.1")])
    set_lock_state(vici.engine, 3, timedelta(hours=1))
    assert vici.get(Q.format(pw="1234")).text == (
        "ERROR: Your IP Address is not allowed: 127.0.0.1: ||IPBLOCK|\n"
    )
    row = user_row(vici.engine)
    assert (row["failed_login_count"], row["failed_last_type_today"]) == (3, "aIPBLOCK")
    assert not fresh(row["last_login_date"])


# --- the throttle per client address -----------------------------------------------------

PROXIED = "function=update_did&source=test&did_pattern=18001234567&active=N"


def from_ip(ip: str) -> dict:
    return {"X-Forwarded-For": ip}


@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
def test_throttle_refuses_an_address_after_thirty_failures_without_hashing(demo_engine, dialect):
    """The demo hashes passwords at cost 10: a checked wrong password takes tens of ms."""
    throttle = Limit(30, 60)
    with serve(
        demo_engine, dialect=dialect, throttle=throttle, trusted_proxies=("127.0.0.1",)
    ) as server:
        started = time.perf_counter()
        for n in range(30):
            r = server.get(PROXIED, auth=(f"ghost{n}", "guess"), headers=from_ip("203.0.113.7"))
            assert r.status_code == 200 and "SUCCESS" not in r.text
        checked = (time.perf_counter() - started) / 30
        before = user_row(demo_engine)
        # The 31st attempt and four more. The machine may be busy with other work, so each is
        # measured twice: its latency, and the CPU this process (client and server) spent
        # on it, which waiting for a core does not inflate. A bcrypt check at cost 10 costs
        # tens of ms of both.
        took, cpu = [], []
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.process_time()
            r = server.get(PROXIED, auth=("6666", "wrong"), headers=from_ip("203.0.113.7"))
            took.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            assert r.status_code == 200
            if dialect == "vicidial":
                assert r.text == BAD_LINE
            else:
                assert r.text == (
                    "ERROR: TOO MANY FAILED LOGINS | from this address, try again in a minute\n"
                )
        shown = ", ".join(f"{t * 1000:.1f}/{c * 1000:.1f}" for t, c in zip(took, cpu, strict=True))
        why = f"latency/CPU {shown} ms; a checked login took {checked * 1000:.1f} ms"
        assert min(took) < 0.005, why
        assert statistics.median(cpu) < 0.005, why
        assert checked > 0.03  # the failures before them really were hashed
        # nothing was read or written for it, and even the right password is refused
        assert user_row(demo_engine) == before
        r = server.get(
            PROXIED + "&format=json", auth=("6666", "1234"), headers=from_ip("203.0.113.7")
        )
        assert r.status_code == 429 and r.json()["kind"] == "throttled"
        assert server.did("18001234567")["did_active"] == "Y"
        # another address is not affected
        r = server.get(PROXIED, auth=("6666", "1234"), headers=from_ip("203.0.113.8"))
        assert r.text.startswith("SUCCESS")
        assert server.count("vicidial_api_log") == 1  # refused logins log nothing


# --- unknown users cost what known ones do -----------------------------------------------


def test_unknown_and_known_users_take_the_same_time(demo_engine):
    """Both medians of 15 wrong guesses, hashing on at cost 10, within 20% of each other.

    Measured as the CPU time of the thread that runs the request (the hashing runs on it):
    on a busy machine, waiting for a core would swamp a comparison of wall-clock times.
    """
    pipeline = Pipeline(demo_engine, POLICIES["simple"])
    query = [("function", "update_did"), ("source", "test"), ("did_pattern", "18001234567")]
    times: dict[str, list[float]] = {"6666": [], "nosuchuser": []}
    for _ in range(15):
        for user in times:
            set_lock_state(demo_engine, 0, None)  # keep the known account unlocked
            incoming = Incoming([*query, ("user", user), ("pass", "wrong")])
            started = time.thread_time()
            reply = pipeline.handle(incoming)
            times[user].append(time.thread_time() - started)
            assert reply.kinds == [Kind.BAD_LOGIN]
    known, unknown = (statistics.median(t) for t in times.values())
    assert known > 0.01  # a real hash was computed
    assert abs(known - unknown) <= 0.2 * max(known, unknown), (known, unknown)


# --- the Basic-auth user: the same filter, one line ----------------------------------------


def test_basic_auth_user_is_filtered_like_the_user_parameter(vici):
    q = "function=update_did&source=test&did_pattern=18001234567&active=N"
    assert vici.get(q, auth=("66'66", "12'34")).text == UPDATED_LINE
    forged = vici.get(q, auth=("6666\nSUCCESS forged", "wrong"))  # (no colon in Basic users)
    assert forged.text == "ERROR: Login incorrect, please try again: |6666SUCCESSforged||BAD|\n"
    conflict = vici.get(q + "&user=6666", auth=("6666\r\nSUCCESS:x", "1234"))
    assert conflict.text.count("\n") == 1 and "SUCCESS" not in conflict.text


def test_every_echo_of_the_user_is_one_line(live):
    """The simple dialect keeps values as sent, so the user is shown, not filtered."""
    q = "function=update_did&source=test&did_pattern=18001234567&active=N"
    for credentials in (("a\nSUCCESS: forged", "x"), ("6666", "1234")):
        r = live.get(q + "&format=json", auth=credentials)
        assert "\n" not in r.text
    with serve(live.engine, dialect="vicidial") as vici_server:
        r = vici_server.get(q + "&user=ad%0Amin&pass=x")
        assert r.text.count("\n") == 1


# --- the verified-password cache (round trips: tests/test_wire.py) ----------------------


def test_verified_logins_hold_under_threads():
    settings = auth.LoginSettings(pass_hash_enabled=True, pass_key="0123456789abcdef", pass_cost=4)
    stored = passhash.hash_password("1234", settings.pass_key, 4)
    cache = auth.VerifiedLogins(size=3)
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for i in range(60):
                assert cache.verify(f"u{(worker * 7 + i) % 11}", "1234", stored, settings)
        except BaseException as error:  # any error in a thread fails the test
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache._seen) <= 3


# --- waiting hashes: bounded, answered at once past the bound --------------------------


@pytest.mark.parametrize(
    ("slots", "status", "kind", "vicidial_line"),
    [
        (HashSlots(in_all=0), 503, "busy", "ERROR: update_did SERVER BUSY, TRY AGAIN: |6666|\n"),
        (HashSlots(per_account=0), 429, "throttled", BAD_LINE),
        (HashSlots(per_address=0), 429, "throttled", BAD_LINE),
    ],
)
def test_a_check_with_no_place_to_wait_is_answered_at_once_and_counts_nothing(
    demo_engine, slots, status, kind, vicidial_line
):
    """The demo hashes at cost 10, so a first login waits for a hash: with no place left
    it is refused before anything is claimed or hashed."""
    before = user_row(demo_engine)
    for dialect in ("simple", "vicidial"):
        with serve(demo_engine, dialect=dialect) as server:
            server.pipeline.gate.slots = slots
            r = server.get(PROXIED + "&format=json", auth=("6666", "1234"))
            assert (r.status_code, r.json()["kind"]) == (status, kind)
            assert (r.headers.get("retry-after") == "1") == (kind == "busy")
            r = server.get(PROXIED, auth=("6666", "1234"))
            if dialect == "vicidial":
                assert r.text == vicidial_line
            assert r.status_code == (503 if kind == "busy" else 200)
    assert user_row(demo_engine) == before  # nothing counted, nothing written
    assert server.did("18001234567")["did_active"] == "Y"


def test_a_claim_that_fails_gives_its_place_among_the_waiting_hashes_back(demo_engine):
    """The throttle's table taken away under a running server: the first login's claim
    fails, the request is answered, and no place is kept for a hash that never comes."""
    with serve(demo_engine, throttle=Limit(30, 60)) as server:
        assert server.get(PROXIED, auth=("1001", "1234")).status_code == 200  # tables read
        execute(demo_engine, "DROP TABLE vicidid_login_throttle")
        for _ in range(6):
            r = server.get(PROXIED + "&format=json", auth=("6666", "1234"))
            assert r.json()["kind"] == "internal_error"
        assert server.pipeline.gate.slots.waiting == 0

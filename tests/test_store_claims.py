"""The claims a login makes before its check (store/statements/logins.py and throttle.py),
on SQLite, vicidid's InnoDB database and VICIdial's own MyISAM schema: each one conditional
UPDATE that the database runs whole, so that claims released together count as if they came
in turn."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from vicidid.auth import rules as auth
from vicidid.auth.throttle import Limit
from vicidid.cli import demo, main
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.store.statements import logins, throttle

NOW = datetime(2026, 12, 4, 10, 0, 0)


@pytest.fixture(params=["sqlite", "innodb", "myisam"])
def engine(request, tmp_path):
    if request.param == "myisam":
        url = request.getfixturevalue("vicidial_url")
        assert CliRunner().invoke(main, ["--db", url, "init-db", "--add-missing"]).exit_code == 0
        user = "6666"
    else:
        url = (
            f"sqlite:///{tmp_path / 'claims.db'}"
            if request.param == "sqlite"
            else request.getfixturevalue("mariadb_url")
        )
        user = "6666"
    engine = make_engine(url, pool_size=16)
    if request.param != "myisam":
        init_db(engine)
        demo.load(engine)
    with engine.connect() as conn:
        assert logins.caller(conn, user) is not None, "the account the tests count on"
    yield engine
    engine.dispose()


def set_state(engine, count: int, last: datetime | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE vicidial_users SET failed_login_count=:c, last_login_date=:d "
                "WHERE user='6666'"
            ),
            {"c": count, "d": last},
        )


def state(engine) -> tuple[int, datetime | None]:
    with engine.connect() as conn:
        row = logins.caller(conn, "6666")
    assert row is not None
    last = row["last_login_date"]
    if isinstance(last, str):  # SQLite may hand a date back as text
        last = datetime.fromisoformat(last)
    return int(row["failed_login_count"] or 0), last


@pytest.mark.parametrize(
    ("count", "ago"),
    [
        (0, None),
        (3, timedelta(minutes=1)),
        (9, timedelta(days=2)),
        (10, timedelta(minutes=14, seconds=59)),
        (10, timedelta(minutes=15, seconds=1)),
        (12, None),
        (10, timedelta(days=400)),
    ],
)
def test_a_claim_writes_what_vicidials_rule_says_a_failure_writes(engine, count, ago):
    last = None if ago is None else NOW - ago
    set_state(engine, count, last)
    rule = auth.failure({"failed_login_count": count, "last_login_date": last}, NOW)
    with engine.begin() as conn:
        claimed = logins.claim(conn, "6666", NOW, auth.LOCK_FOR)
    after = state(engine)
    if rule is auth.Failure.LOCKED:
        assert not claimed and after == (count, last)
    elif rule is auth.Failure.NEW_WINDOW:
        assert claimed and after == (1, NOW)
    else:
        assert claimed and after == (count + 1, last)


def test_an_unknown_name_claims_nothing(engine):
    with engine.begin() as conn:
        assert not logins.claim(conn, "nosuchuser", NOW, auth.LOCK_FOR)


def together(count: int, work) -> list:
    """`work()` in `count` threads released at once; their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        results[n] = work()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize(("last", "allowed"), [(None, 20), (NOW - timedelta(minutes=1), 10)])
def test_claims_released_together_stop_where_vicidial_locks(engine, last, allowed):
    """An idle account takes 10 and one fresh window of 10; one used lately takes 10."""
    set_state(engine, 0, last)

    def claim() -> bool:
        with engine.begin() as conn:
            return logins.claim(conn, "6666", NOW, auth.LOCK_FOR)

    assert sum(together(60, claim)) == allowed
    assert state(engine)[0] == 10


def test_throttle_claims_released_together_stop_at_the_limit(engine):
    limit = Limit(30, 60)

    def claim() -> int | None:
        with engine.begin() as conn:
            return throttle.claim(conn, "203.0.113.7", 1_000_000, limit, None)

    won = [w for w in together(60, claim) if w is not None]
    assert len(won) == 30 and set(won) == {1_000_000}
    with engine.connect() as conn:
        assert throttle.window(conn, "203.0.113.7") == (30, 1_000_000)
        assert limit.reached(30, 1_000_000, 1_000_059)
        # a claim given back frees one place, in that window only
        throttle.release(conn, "203.0.113.7", 999_999)
        assert throttle.window(conn, "203.0.113.7") == (30, 1_000_000)
        throttle.release(conn, "203.0.113.7", 1_000_000)
        assert throttle.window(conn, "203.0.113.7") == (29, 1_000_000)
        conn.commit()


def test_a_window_ends_and_a_new_one_counts_from_one(engine):
    limit = Limit(2, 60)
    with engine.begin() as conn:
        assert throttle.claim(conn, "2001:db8::/64", 100, limit, None) == 100
        assert throttle.claim(conn, "2001:db8::/64", 110, limit, 100) == 100
        assert throttle.claim(conn, "2001:db8::/64", 159, limit, 100) is None
        assert throttle.claim(conn, "2001:db8::/64", 160, limit, 100) == 160
        assert throttle.window(conn, "2001:db8::/64") == (1, 160)
        assert throttle.claim(conn, "10.0.0.1", 160, limit, None) == 160
        assert [w.address for w in throttle.windows(conn, 200, limit)] == [
            "10.0.0.1",
            "2001:db8::/64",
        ]
        assert throttle.purge(conn, 220, limit) == 2
        assert throttle.windows(conn, 220, limit) == []
        assert not throttle.clear(conn, "10.0.0.1")


def test_expired_windows_go_and_live_ones_stay_under_a_spray(engine):
    """Many addresses at once: the purge takes only windows that have ended."""
    limit = Limit(30, 60)
    with engine.begin() as conn:
        for n in range(300):
            throttle.claim(conn, f"198.51.{n // 256}.{n % 256}", 1000 + (n % 2) * 50, limit, None)
        assert throttle.purge(conn, 1070, limit) == 150  # the ones counted at 1000
        live = throttle.windows(conn, 1070, limit)
    assert len(live) == 150 and {w.started for w in live} == {1050}


def test_a_row_gone_since_the_read_is_added_again_and_counted(engine):
    """The purge or `throttle clear` may take the row between the login's read and its
    claim: the claim then adds it again, never answers "over the limit" for it."""
    limit = Limit(30, 60)
    with engine.begin() as conn:
        assert throttle.claim(conn, "203.0.113.8", 1000, limit, None) == 1000
        assert throttle.clear(conn, "203.0.113.8")
        assert throttle.claim(conn, "203.0.113.8", 1010, limit, 1000) == 1010
        assert throttle.window(conn, "203.0.113.8") == (1, 1010)


@pytest.mark.parametrize(("count", "counted"), [(3, True), (10, False)])
def test_a_guess_known_wrong_writes_its_whole_failure_in_the_claim(engine, count, counted):
    """A plain password found wrong: one UPDATE counts it and writes the day's counts; on
    an account locked meanwhile it writes nothing (the lock's own bookkeeping follows)."""
    set_state(engine, count, NOW - timedelta(minutes=1))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE vicidial_users SET failed_login_attempts_today=0, "
                "failed_login_count_today=0, failed_last_type_today='' WHERE user='6666'"
            )
        )
        assert logins.claim(conn, "6666", NOW, auth.LOCK_FOR, "203.0.113.5") is counted
        row = logins.caller(conn, "6666")
    assert row is not None
    assert int(row["failed_login_count"]) == (count + 1 if counted else count)
    assert int(row["failed_login_attempts_today"]) == int(row["failed_login_count_today"])
    assert int(row["failed_login_count_today"]) == (1 if counted else 0)
    assert row["failed_last_type_today"] == ("aBAD" if counted else "")
    assert (row["failed_last_ip_today"] == "203.0.113.5") is counted


def test_a_claim_that_read_nothing_gives_the_window_it_really_counted_in(engine):
    """A request passed on to PHP claims without a read: the start it gets back is the
    running window's, so that giving it back frees the place (seconds later too)."""
    limit = Limit(2, 60)
    with engine.begin() as conn:
        assert throttle.claim(conn, "203.0.113.9", 1000, limit, None) == 1000
        for now in (1010, 1020, 1030):
            window = throttle.claim(conn, "203.0.113.9", now, limit, None)
            assert window == 1000
            throttle.release(conn, "203.0.113.9", window)
        assert throttle.window(conn, "203.0.113.9") == (1, 1000)

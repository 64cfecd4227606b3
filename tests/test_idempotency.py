"""Idempotency-Key on add_did and copy_did: the first answer is replayed, never acted twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.conftest import serve
from tests.test_existing_vicidial import table_definitions, vicidial_url  # noqa: F401
from tests.test_limits import strict_db  # noqa: F401
from vicidid.cli import demo, main
from vicidid.core import idempotency
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import sizes
from vicidid.store import tables as t
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

COPY = (
    "function=copy_did&user=admin&pass=1234&source=test&did_pattern=18001234567"
    "&new_did_pattern=18002223333"
)


def copies(live) -> int:
    with live.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT COUNT(*) FROM vicidial_admin_log WHERE event_type='COPY'")
        ).scalar_one()


def test_retry_with_the_same_key_replays(live):
    key = {"Idempotency-Key": "order-1001"}
    first = live.get(COPY, headers=key)
    assert first.text == "SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n"
    again = live.get(COPY, headers=key)
    assert again.text == first.text  # not "NEW DID ALREADY EXISTS"
    assert again.headers["idempotent-replayed"] == "true"
    assert copies(live) == 1
    assert live.get(COPY).text == "ERROR: NEW DID ALREADY EXISTS\n"  # without the key


def test_key_as_a_parameter_and_in_json(live):
    q = COPY + "&idempotency_key=abc-1&format=json"
    first, again = live.get(q), live.get(q)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert copies(live) == 1


def test_reused_key_with_other_parameters_is_an_error(live):
    live.get(COPY, headers={"Idempotency-Key": "k1"})
    other = live.get(COPY.replace("18002223333", "18002223399"), headers={"Idempotency-Key": "k1"})
    assert other.text == "ERROR: IDEMPOTENCY KEY REUSED | k1 was used with other parameters\n"
    assert live.did("18002223399") is None


def test_keys_belong_to_their_user(live):
    live.get(COPY, headers={"Idempotency-Key": "shared"})
    r = live.get(COPY.replace("user=admin", "user=6666"), headers={"Idempotency-Key": "shared"})
    assert r.text == "ERROR: NEW DID ALREADY EXISTS\n"  # acted for 6666, no replay of admin's


def test_bad_key(live):
    r = live.get(COPY, headers={"Idempotency-Key": "not ok!"})
    assert r.text.startswith("ERROR: INVALID idempotency_key")
    assert live.did("18002223333") is None


def test_concurrent_requests_with_one_key_act_once(live):
    def one(_):
        with httpx.Client(timeout=60) as c:
            return c.get(
                f"{live.url}/vicidial/non_agent_api.php?{COPY}",
                headers={"Idempotency-Key": "race-1"},
            ).text

    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(one, range(8)))
    assert set(texts) == {"SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n"}
    assert copies(live) == 1


def test_update_did_ignores_the_key(live):
    q = "function=update_did&user=admin&pass=1234&source=test&did_pattern=18001234567&did_active=N"
    for _ in range(2):
        assert live.get(q, headers={"Idempotency-Key": "u1"}).text.startswith("SUCCESS")


# Large answers, expired keys, and the table's upgrade ------------------------------------

BIG_COPY = [("function", "copy_did"), ("user", "6666"), ("pass", "1234"), ("source", "test")]


def _big_copy(count: int) -> list[tuple[str, str]]:
    new = ",".join(f"1800{i:07d}" for i in range(count))
    return [*BIG_COPY, ("did_pattern", "18001234567"), ("new_dids", new), ("format", "json")]


@pytest.mark.mariadb
def test_a_five_thousand_did_copy_replays_identically_in_strict_mode(strict_db):  # noqa: F811
    with serve(strict_db) as live:
        key = {"Idempotency-Key": "bulk-5000"}
        first = live.post(dict(_big_copy(5_000)), headers=key)
        again = live.post(dict(_big_copy(5_000)), headers=key)
    assert first.status_code == 200, first.text[:300]
    assert first.json()["counts"] == {"added": 5_000, "existed": 0, "invalid": 0}
    assert len(first.content) > 65_535  # more than a TEXT column holds
    assert again.headers["idempotent-replayed"] == "true"
    assert (again.status_code, again.content) == (first.status_code, first.content)


@pytest.mark.mariadb
def test_an_answer_too_big_to_store_answers_once(mariadb_url):
    engine = make_engine(mariadb_url)
    init_db(engine)
    demo.load(engine)
    with engine.begin() as conn:  # the body column as an older vicidid made it
        conn.execute(sa.text("ALTER TABLE vicidid_idempotency MODIFY body TEXT NOT NULL"))
    sizes.forget(engine)
    with serve(engine) as live:
        key = {"Idempotency-Key": "too-big"}
        first = live.post(dict(_big_copy(1_000)), headers=key)
        again = live.post(dict(_big_copy(1_000)), headers=key)
        stored = live.count("vicidid_idempotency")
    engine.dispose()
    assert first.status_code == 200 and len(first.content) > 65_535
    assert stored == 0
    assert "idempotent-replayed" not in again.headers
    assert again.status_code == 409  # acted again: every DID exists now


def test_expired_keys_are_purged_once_a_minute(demo_engine):
    pipeline = Pipeline(demo_engine, POLICIES["simple"])
    now = datetime.now().replace(microsecond=0)

    def key(name: str, age: timedelta) -> None:
        with demo_engine.begin() as conn:
            conn.execute(
                t.idempotency.insert().values(
                    idem_key=name,
                    user="admin",
                    fingerprint="x",
                    status=200,
                    content_type="text/plain",
                    body="SUCCESS\n",
                    created=now - age,
                )
            )

    def keys() -> set[str]:
        with demo_engine.connect() as conn:
            return set(conn.execute(sa.select(t.idempotency.c.idem_key)).scalars())

    version = Incoming([("function", "version")])
    key("old", timedelta(hours=25))
    key("fresh", timedelta(hours=1))
    pipeline.handle(version)
    assert keys() == {"fresh"}
    key("old-2", timedelta(hours=30))
    pipeline.handle(version)
    assert keys() == {"fresh", "old-2"}  # not again within the minute
    pipeline.purge_timer = idempotency.PurgeTimer(every=0)
    pipeline.handle(version)
    assert keys() == {"fresh"}


@pytest.mark.mariadb
def test_add_missing_upgrades_only_vicidids_own_table(vicidial_url):  # noqa: F811
    engine = make_engine(vicidial_url)
    with engine.begin() as conn:  # vicidid_idempotency as an older vicidid created it
        conn.execute(
            sa.text(
                "CREATE TABLE vicidid_idempotency (idem_key VARCHAR(100) NOT NULL, "
                "user VARCHAR(20) NOT NULL, fingerprint VARCHAR(64) NOT NULL, "
                "status INT NOT NULL, content_type VARCHAR(60) NOT NULL, body TEXT NOT NULL, "
                "created DATETIME NOT NULL, PRIMARY KEY (idem_key, user))"
            )
        )
    before = table_definitions(vicidial_url)
    r = CliRunner().invoke(main, ["--db", vicidial_url, "init-db", "--add-missing"])
    assert r.exit_code == 0, r.output
    assert "vicidid_idempotency.body widened to MEDIUMTEXT" in r.output
    after = table_definitions(vicidial_url)
    assert {n: d for n, d in after.items() if not n.startswith("vicidid_")} == {
        n: d for n, d in before.items() if not n.startswith("vicidid_")
    }
    body = sizes.read(engine).room("vicidid_idempotency", "body")
    assert (body.size, body.codec, body.widest) == (16_777_215, "utf-8", 4)
    assert "vicidid_idempotency_created" in after["vicidid_idempotency"]
    again = CliRunner().invoke(main, ["--db", vicidial_url, "init-db", "--add-missing"])
    assert "widened" not in again.output  # nothing left to do
    engine.dispose()


@pytest.mark.mariadb
def test_one_key_sent_at_once_acts_once_on_myisam(vicidial_url):  # noqa: F811
    """VICIdial's MyISAM tables have no transaction to make the second request wait: without
    the key's named lock, one request copies and the other, finding the DID there, answers
    that it exists and stores that answer for both (seen under load across servers)."""
    r = CliRunner().invoke(main, ["--db", vicidial_url, "init-db", "--add-missing"])
    assert r.exit_code == 0, r.output
    engine = make_engine(vicidial_url)
    with serve(engine) as live:
        for attempt in range(6):
            new = f"1800777{attempt:04d}"
            query = (
                "function=copy_did&user=6666&pass=1234&source=test"
                f"&did_pattern=18001234567&new_did_pattern={new}"
            )
            start = threading.Barrier(6)

            def one(_, query=query, attempt=attempt, start=start):
                with httpx.Client(timeout=60) as c:
                    start.wait()
                    return c.get(
                        f"{live.url}/vicidial/non_agent_api.php?{query}",
                        headers={"Idempotency-Key": f"myisam-{attempt}"},
                    ).text

            with ThreadPoolExecutor(6) as pool:
                texts = set(pool.map(one, range(6)))
            assert texts == {f"SUCCESS: 18001234567 -> {new} | DID Copied Successfully\n"}
        with engine.connect() as conn:
            copied = conn.execute(
                sa.text("SELECT COUNT(*) FROM vicidial_admin_log WHERE event_type='COPY'")
            ).scalar_one()
    assert copied == 6
    engine.dispose()

"""Idempotency-Key on add_did and copy_did: the first answer is replayed, never acted twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa

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

"""--fallback-url: functions vicidid lacks go to a real second server on loopback, unchanged."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import serve
from tests.stand_in import Answer, stand_in
from vicidid.auth.throttle import Limit
from vicidid.cli import demo
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.web import access_log
from vicidid.web.access_log import KeyValueFormatter
from vicidid.web.fallback import implemented
from vicidid.web.settings import Settings

API = "/vicidial/non_agent_api.php"


@pytest.fixture
def demo_engine(sqlite_url):
    """The demo data on SQLite: passing requests on does not depend on the database."""
    engine = make_engine(sqlite_url)
    init_db(engine)
    demo.load(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def php():
    with stand_in() as server:
        yield server


@pytest.fixture
def front(demo_engine, php):
    with serve(demo_engine, fallback_url=php.url, fallback_timeout=1.0) as server:
        yield server


@contextlib.contextmanager
def dead_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, never listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_get_of_another_function_is_passed_through_and_answered_unchanged(front, php):
    php.answer = lambda seen: Answer(
        status=200,
        body=b"SUCCESS: add_lead LEAD HAS BEEN ADDED - 6666|42|\n",
        headers=[
            ("Content-Type", "text/html; charset=UTF-8"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Powered-By", "PHP/8.2"),
        ],
    )
    query = "function=add_lead&user=6666&pass=1234&source=crm&phone_number=5551234&list_id=101"
    response = front.client.get(f"{front.url}{API}?{query}", headers={"X-Custom": "kept"})
    assert response.status_code == 200
    assert response.content == b"SUCCESS: add_lead LEAD HAS BEEN ADDED - 6666|42|\n"
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["x-powered-by"] == "PHP/8.2"
    assert response.headers["x-request-id"]
    [seen] = php.seen
    assert (seen.method, seen.path, seen.query) == ("GET", API, query)
    assert seen.header("x-custom") == "kept"
    assert seen.header("x-forwarded-for") == "127.0.0.1"
    assert seen.header("x-forwarded-host") == front.url.removeprefix("http://")
    assert seen.header("via") == "1.1 vicidid"


def test_post_form_body_reaches_php_byte_for_byte(front, php, caplog):
    body = b"function=update_lead&user=6666&pass=s3cret%21&source=crm&lead_id=7&comments=a+b%26c"
    with caplog.at_level(logging.INFO):
        response = front.client.post(
            f"{front.url}{API}",
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": "10.1.2.3",
            },
        )
    assert response.status_code == 200
    [seen] = php.seen
    assert seen.method == "POST" and seen.query == ""
    assert seen.body == body
    assert seen.header("content-type") == "application/x-www-form-urlencoded"
    assert seen.header("x-forwarded-for") == "10.1.2.3, 127.0.0.1"
    access_log.flush()  # lines are written in batches, off the request path
    logged = "\n".join(KeyValueFormatter().format(r) for r in caplog.records)
    assert "function=update_lead" in logged  # the access log line is there…
    assert "s3cret" not in logged  # …without the password


def test_multipart_body_reaches_php_unchanged(front, php):
    files = {"leads": ("leads.csv", b"5551234,John\n", "text/csv")}
    data = {"function": "add_lead", "user": "6666", "pass": "1234", "source": "crm"}
    request = front.client.build_request("POST", f"{front.url}{API}", data=data, files=files)
    sent = request.read()
    response = front.client.send(request)
    assert response.status_code == 200
    [seen] = php.seen
    assert seen.body == sent
    assert seen.header("content-type") == request.headers["content-type"]


def test_the_function_is_decided_by_phps_rules_get_wins(front, php):
    # GET says update_did, the body says add_lead: vicidid answers, PHP never hears of it
    response = front.client.post(
        f"{front.url}{API}?function=update_did",
        data={
            "function": "add_lead",
            "user": "admin",
            "pass": "1234",
            "source": "crm",
            "did_pattern": "18001234567",
            "did_active": "N",
        },
    )
    assert response.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert php.seen == []
    # GET says add_lead, the body says update_did: PHP answers
    front.client.post(
        f"{front.url}{API}?function=add_lead",
        data={"function": "update_did", "user": "admin", "pass": "1234"},
    )
    assert len(php.seen) == 1
    assert front.did("18001234567")["did_active"] == "N"


def test_vicidids_own_functions_never_reach_php(front, php):
    for query in (
        "function=version",
        "user=admin&pass=1234",  # no function: vicidid's own answer
        "function=did_info&user=admin&pass=1234&source=crm&did_pattern=18001234567",
        "function=update_did&user=admin&pass=wrong&source=crm&did_pattern=18001234567",
    ):
        assert front.get(query).status_code == 200
    assert php.seen == []


def test_php_status_and_errors_come_back_as_php_sent_them(front, php):
    php.answer = lambda seen: Answer(
        status=500, body=b"<b>Fatal error</b>", headers=[("Content-Type", "text/html")]
    )
    response = front.get("function=add_lead&user=6666&pass=1234")
    assert response.status_code == 500
    assert response.content == b"<b>Fatal error</b>"


def test_hop_by_hop_headers_stay_with_the_hop(front, php):
    front.client.get(
        f"{front.url}{API}?function=add_lead",
        headers={"Connection": "keep-alive, X-Only-This-Hop", "X-Only-This-Hop": "1"},
    )
    [seen] = php.seen
    assert seen.header("x-only-this-hop") is None
    assert seen.header("connection") != "keep-alive, X-Only-This-Hop"


def test_a_slow_fallback_gets_a_clear_line_not_a_hang(front, php):
    php.answer = lambda seen: Answer(delay=3.0)
    started = time.monotonic()
    response = front.get("function=add_lead&user=6666&pass=1234&source=crm")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.text == (
        "ERROR: FALLBACK TIMED OUT | add_lead goes to VICIdial's non_agent_api.php, "
        "which did not answer in 1 s\n"
    )
    assert elapsed < 2.5  # the timeout is 1 s; the stand-in would take 3 s
    as_json = front.get("function=add_lead&user=6666&pass=1234&format=json")
    assert as_json.status_code == 504
    assert as_json.json()["kind"] == "fallback_timeout"


@pytest.mark.parametrize(
    ("dialect", "line"),
    [
        (
            "simple",
            "ERROR: FALLBACK UNAVAILABLE | add_lead goes to VICIdial's non_agent_api.php, "
            "which did not answer\n",
        ),
        ("vicidial", "ERROR: add_lead FALLBACK UNAVAILABLE: |6666|\n"),
    ],
)
def test_a_dead_fallback_gets_a_clear_line(demo_engine, dialect, line, caplog):
    caplog.set_level(logging.INFO)
    with dead_port() as port:
        url = f"http://127.0.0.1:{port}{API}"
        with serve(demo_engine, dialect, fallback_url=url) as server:
            response = server.get("function=add_lead&user=6666&pass=1234&source=crm")
    assert response.status_code == 502
    assert response.text == line
    logged = "\n".join(KeyValueFormatter().format(r) for r in caplog.records)
    assert "result=fallback_down" in logged
    assert "1234" not in logged


def test_without_a_fallback_other_functions_answer_as_before(live):
    response = live.get("function=add_lead&user=admin&pass=1234&source=crm")
    assert response.text == "ERROR: UNKNOWN FUNCTION | add_lead\n"


def test_a_malformed_json_body_for_another_function_still_goes_to_php(front, php):
    response = front.client.post(
        f"{front.url}{API}?function=add_lead",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert php.seen[0].body == b"{not json"


@pytest.mark.parametrize(
    "url",
    ["ftp://host/x.php", "not a url", "http:///path", "http://host/api.php?function=x"],
)
def test_a_bad_fallback_url_is_refused_at_start(url):
    with pytest.raises(ValueError, match="fallback URL"):
        Settings(fallback_url=url)


def test_settings_from_the_environment():
    settings = Settings.from_env(
        {"VICIDID_FALLBACK_URL": "http://127.0.0.1/x.php", "VICIDID_FALLBACK_TIMEOUT": "2.5"}
    )
    assert (settings.fallback_url, settings.fallback_timeout) == ("http://127.0.0.1/x.php", 2.5)
    with pytest.raises(ValueError, match="seconds"):
        Settings.from_env({"VICIDID_FALLBACK_TIMEOUT": "soon"})


def test_the_client_reads_through_the_fallback_too(front, php):
    """A whole path behind vicidid: a DID call and a lead call on the same URL both work."""
    with httpx.Client() as client:
        did = client.get(
            f"{front.url}{API}",
            params={
                "function": "update_did",
                "user": "admin",
                "pass": "1234",
                "source": "crm",
                "did_pattern": "18001234567",
                "did_route": "AGENT",
                "user_id": "1001",
            },
        )
        lead = client.get(f"{front.url}{API}", params={"function": "add_lead", "user": "6666"})
    assert did.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert lead.text.startswith("SUCCESS: add_lead")


def test_a_request_vicidid_passed_on_already_is_not_passed_on_again(demo_engine, caplog):
    """A fallback URL that leads back to vicidid (through the proxy in front) is no loop."""
    caplog.set_level(logging.WARNING)
    with serve(demo_engine, fallback_url="http://127.0.0.1:1/x.php") as front:
        response = front.client.get(
            f"{front.url}{API}?function=add_lead", headers={"Via": "1.1 vicidid"}
        )
    assert response.status_code == 502
    assert "leads back here" in caplog.text


@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
def test_a_throttled_address_is_refused_before_anything_is_passed_on(demo_engine, php, dialect):
    """PHP's failed logins count toward the throttle; past it, nothing reaches PHP and the
    answer is the line PHP prints for a failed login, in either dialect."""
    php.answer = lambda seen: Answer(
        status=200, body=b"ERROR: Login incorrect, please try again: |6666|nope|BAD|\n"
    )
    query = "function=add_lead&user=6666&pass=nope&source=crm&phone_number=5551234"
    with serve(demo_engine, dialect=dialect, throttle=Limit(3, 60), fallback_url=php.url) as server:
        for _ in range(3):
            r = server.client.get(f"{server.url}{API}?{query}")
            assert r.text.startswith("ERROR: Login incorrect")
        assert len(php.seen) == 3
        r = server.client.get(f"{server.url}{API}?{query}")
        assert r.status_code == 200
        assert r.text == "ERROR: Login incorrect, please try again: |6666||BAD|\n"
        assert len(php.seen) == 3  # refused here, never passed on
        # and the address is refused for vicidid's own functions too
        r = server.get("function=update_did&user=6666&pass=1234&source=t&did_pattern=1&format=json")
        assert r.status_code == 429 and r.json()["kind"] == "throttled"


def test_answers_php_gives_for_right_logins_do_not_count(demo_engine, php):
    php.answer = lambda seen: Answer(status=200, body=b"SUCCESS: add_lead LEAD HAS BEEN ADDED\n")
    query = "function=add_lead&user=6666&pass=1234&source=crm&phone_number=5551234"
    with serve(demo_engine, throttle=Limit(2, 60), fallback_url=php.url) as server:
        for _ in range(5):
            assert server.client.get(f"{server.url}{API}?{query}").text.startswith("SUCCESS")
    assert len(php.seen) == 5


@pytest.mark.parametrize(
    ("function", "ours"),
    [
        ("update_did", True),
        ("update_did ", True),  # VICIdial strips what is not - _ 0-9 a-z A-Z, and runs it
        ("update_did.", True),
        ("update_did\x00", True),
        ("copy_did\n", True),
        ("add.did", False),  # adddid: no function of VICIdial's
        (" add_did", True),
        ("version!", True),
        (" ", True),  # nothing left: vicidid answers that no function was given
        ("", True),
        ("add_lead", False),
        ("add_lead ", False),
        ("Update_did", False),  # PHP compares the name exactly
    ],
)
def test_the_function_is_read_as_vicidial_reads_it(function, ours):
    assert implemented(function) is ours


@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
@pytest.mark.parametrize("suffix", ["%20", ".", "%00", "%0A"])
def test_a_did_function_with_stray_characters_never_reaches_php(demo_engine, php, dialect, suffix):
    query = f"function=update_did{suffix}&user=6666&pass=1234&source=crm&did_pattern=18001234567"
    with serve(demo_engine, dialect, fallback_url=php.url, fallback_timeout=1.0) as server:
        response = server.get(query + "&did_active=N&active=N")
    assert php.seen == []
    assert response.status_code == 200
    if dialect == "vicidial":  # VICIdial's filter, then update_did, as VICIdial itself would
        assert response.text == "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n"
    else:  # the simple dialect refuses the stray character itself
        assert response.text.startswith("ERROR: UNKNOWN FUNCTION | update_did")


def test_requests_passed_on_together_count_before_they_go(demo_engine, php):
    """40 guesses for PHP sent at once from one address: each is counted on the address
    before it is passed on, so no more reach PHP than the throttle allows."""
    php.answer = lambda seen: Answer(
        status=200, body=b"ERROR: Login incorrect, please try again: |6666|nope|BAD|\n"
    )
    query = "function=add_lead&user=6666&pass=nope&source=crm&phone_number=5551234"
    with serve(demo_engine, throttle=Limit(10, 60), fallback_url=php.url) as server:
        barrier = threading.Barrier(40)

        def guess() -> str:
            with httpx.Client(timeout=30) as client:
                barrier.wait()
                return client.get(f"{server.url}{API}?{query}").text

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda _: guess(), range(40)))
    assert len(php.seen) == 10
    refused = "ERROR: Login incorrect, please try again: |6666||BAD|\n"
    assert answers.count(refused) == 30

"""The HTTP edge against a hostile client: no redirects built from the Host header, and
/metrics answered only to those allowed to read it; the API path's methods and headers."""

from __future__ import annotations

import logging
import re
import socket
import sys

import pytest

from tests.conftest import serve
from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from vicidid.web import metrics
from vicidid.web.settings import Settings

TOKEN = "s3cret-metrics-token-42"
TRAILING_SLASHES = [
    "/vicidial/non_agent_api.php/?function=version&user=admin&pass=Sekrit99",
    "/vicidial/non_agent_api.php/?function=update_did&user=admin&pass=Sekrit99&source=x",
    "/docs/",
    "/healthz/",
    "/metrics/",
    "/openapi.json/",
]


@pytest.mark.parametrize("path", TRAILING_SLASHES)
def test_a_trailing_slash_is_404_never_a_redirect(live, path):
    r = live.client.get(live.url + path, headers={"host": "evil.example"})
    assert r.status_code == 404
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/plain")
    assert "evil.example" not in r.text and "Sekrit99" not in r.text


def test_metrics_answer_a_local_client_without_a_token(live):
    r = live.client.get(live.url + "/metrics")
    assert r.status_code == 200 and "vicidid_requests" in r.text


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_metrics_refuse_a_request_a_proxy_passed_on(live, header):
    r = live.client.get(live.url + "/metrics", headers={header: "203.0.113.9"})
    assert r.status_code == 403
    assert r.text == metrics.LOCAL_ONLY
    assert "vicidid_requests" not in r.text


def test_metrics_with_a_token_ask_everyone_for_it(demo_engine):
    with serve(demo_engine, metrics_token=TOKEN) as live:
        url = live.url + "/metrics"
        for headers in (
            {},
            {"authorization": "Bearer wrong-token-of-some-length"},
            {"authorization": f"Bearer {TOKEN}x"},
            {"authorization": f"Basic {TOKEN}"},
        ):
            r = live.client.get(url, headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert "vicidid_requests" not in r.text and TOKEN not in r.text
        for scheme in ("Bearer", "bearer"):
            r = live.client.get(
                url, headers={"authorization": f"{scheme} {TOKEN}", "x-forwarded-for": "1.2.3.4"}
            )
            assert r.status_code == 200 and "vicidid_requests" in r.text


def test_metrics_elsewhere_leave_the_api_port_without_them(demo_engine):
    with serve(demo_engine, metrics_host="127.0.0.1") as live:
        assert live.client.get(live.url + "/metrics").status_code == 404
        assert live.client.get(live.url + "/healthz").status_code == 200


@pytest.mark.parametrize(
    ("peer", "headers", "token", "status"),
    [
        ("127.0.0.1", {}, "", None),
        ("127.8.9.10", {}, "", None),
        ("::1", {}, "", None),
        ("::ffff:127.0.0.1", {}, "", None),
        ("192.0.2.7", {}, "", 403),
        ("::ffff:192.0.2.7", {}, "", 403),
        (None, {}, "", 403),
        ("127.0.0.1", {"x-forwarded-for": "127.0.0.1"}, "", 403),
        ("192.0.2.7", {"authorization": f"Bearer {TOKEN}"}, TOKEN, None),
        ("127.0.0.1", {}, TOKEN, 401),
        ("127.0.0.1", {"authorization": "Bearer"}, TOKEN, 401),
        ("127.0.0.1", {"authorization": "Bearer é"}, TOKEN, 401),
    ],
)
def test_who_may_read_metrics(peer, headers, token, status):
    refused = metrics.refusal(peer, headers, token)
    assert (refused[0] if refused else None) == status


@pytest.mark.parametrize(
    "settings",
    [
        {"metrics_token": "short"},
        {"metrics_token": "a token with spaces in it"},
        {"metrics_token": "tøken-that-is-not-ascii"},
        {"metrics_host": "not-an-address"},
        {"metrics_port": 0},
    ],
)
def test_bad_metrics_settings_are_refused(settings):
    with pytest.raises(ValueError):
        Settings(**settings)


def test_the_token_is_not_in_the_settings_repr():
    assert TOKEN not in repr(Settings(metrics_token=TOKEN))


# The API path itself: methods, headers, and one write per answer ---------------------

API = "/vicidial/non_agent_api.php"
DID_INFO = "function=did_info&user=admin&pass=1234&source=test&did_pattern=18001234567"


def test_head_answers_the_gets_status_and_headers_without_a_body(live):
    got = live.get(DID_INFO)
    head = live.client.head(f"{live.url}{API}?{DID_INFO}")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["x-request-id"] != got.headers["x-request-id"]


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(live, method):
    r = live.client.request(method, f"{live.url}{API}?{DID_INFO}")
    assert r.status_code == 405 and r.text == "Method Not Allowed"
    assert r.headers["allow"] == "GET, POST, HEAD"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "x-request-id" not in r.headers


def test_answers_carry_their_type_length_and_request_id(live):
    text = live.get(DID_INFO)
    as_json = live.get(DID_INFO + "&format=json")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert as_json.headers["content-type"] == "application/json"
    for r in (text, as_json):
        assert r.headers["content-length"] == str(len(r.content))
        assert len(r.headers["x-request-id"]) == 12
        assert int(r.headers["x-request-id"], 16) >= 0


def test_the_forwarded_for_lines_are_one_list(demo_engine, caplog):
    """A proxy that adds its own X-Forwarded-For line names the client in the last one."""
    from vicidid.web import access_log

    caplog.set_level(logging.INFO)
    with serve(demo_engine, trusted_proxies=("127.0.0.1",)) as live:
        headers = [("x-forwarded-for", "203.0.113.66"), ("x-forwarded-for", "198.51.100.7")]
        assert live.get(DID_INFO, headers=headers).text.startswith("did_id|")
        access_log.flush()
    [record] = [r for r in caplog.records if r.name == "vicidid.access"]
    assert record.fields["ip"] == "198.51.100.7"


def segments_in(s: socket.socket) -> int:
    """TCP segments this socket has received (Linux's tcp_info: tcpi_segs_in)."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 144)
    return int.from_bytes(info[140:144], sys.byteorder)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's tcp_info")
def test_an_answer_leaves_in_one_write(live):
    """Head and body in one TCP segment: 20 answers arrive in about 20 segments, not 40."""
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(10)
        before = segments_in(s)
        for _ in range(20):
            s.sendall(f"GET {API}?{DID_INFO} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                re.search(rb"content-length: (\d+)", data).group(1)
            ):
                data += s.recv(65536)
            assert data.partition(b"\r\n\r\n")[2].startswith(b"did_id|")
        assert segments_in(s) - before <= 30


# --- text refused at the edge, JSON read within bounds ------------------------------------------

JSON = {"Content-Type": "application/json"}
LOGIN = '"function": "update_did", "user": "admin", "pass": "1234", "source": "crm"'
HOSTILE_BODIES = [
    ("{" + LOGIN.replace('"admin"', '"\\ud800"') + "}", "ERROR: INVALID TEXT | user holds a lone"),
    ("{" + LOGIN.replace('"1234"', '"\\ud800"') + "}", "ERROR: INVALID TEXT | pass holds a lone"),
    ("{" + LOGIN + ', "did_pattern": "18001234567", "did_active": "N", "x": "a\\udfffb"}', None),
    ("{" + LOGIN + ', "did_pattern": "18001234567", "\\ud800": "1"}', None),
    ('{"a": ' + "1" * 5000 + "}", "ERROR: INVALID JSON BODY | a number longer than 100 digits"),
    ("[" * 100_000 + "]" * 100_000, "ERROR: INVALID JSON BODY | brackets nested deeper than 10"),
    ('{"a": ' * 50_000 + "1" + "}" * 50_000, "ERROR: INVALID JSON BODY | brackets nested deeper"),
    ('{"a": ' + "[" * 5_000 + "]" * 5_000 + "}", "ERROR: INVALID JSON BODY | brackets nested"),
]


def metric(live, function: str, result: str) -> float:
    text = live.client.get(live.url + "/metrics").text
    found = re.search(
        rf'^vicidid_requests_total{{function="{function}",result="{result}"}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize(("body", "start"), HOSTILE_BODIES)
def test_hostile_text_is_a_400_line_with_its_log_line_and_metric(live, caplog, body, start):
    from vicidid.web import access_log

    caplog.set_level(logging.INFO)
    before = live.did("18001234567")
    logged = live.count("vicidial_api_log")
    kind = "invalid_text" if "INVALID TEXT" in (start or "INVALID TEXT") else "malformed_body"
    function = "update_did" if kind == "invalid_text" else "none"
    counted = metric(live, function, kind)
    response = live.client.post(
        live.url + "/vicidial/non_agent_api.php", content=body, headers=JSON
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith(start or "ERROR: INVALID TEXT | ")
    assert response.text.count("\n") == 1 and response.text.isascii()
    assert "Internal Server Error" not in response.text
    as_json = live.client.post(
        live.url + "/vicidial/non_agent_api.php?format=json", content=body, headers=JSON
    )
    assert as_json.status_code == 400 and as_json.json()["kind"] == kind
    access_log.flush()
    records = [r for r in caplog.records if r.name == "vicidid.access"]
    assert [r.fields["result"] for r in records] == [kind, kind]
    assert [r.fields["status"] for r in records] == [400, 400]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback
    assert metric(live, function, kind) == counted + 2
    assert live.did("18001234567") == before
    assert live.count("vicidial_api_log") == logged


def test_the_vicidial_dialect_words_it_as_vicidial_would(demo_engine):
    with serve(demo_engine, "vicidial") as live:
        body = "{" + LOGIN.replace('"admin"', '"\\ud800"') + "}"
        response = live.client.post(
            live.url + "/vicidial/non_agent_api.php", content=body, headers=JSON
        )
        assert (response.status_code, response.text) == (
            400,
            "ERROR: INVALID TEXT, NOT A CHARACTER: ||user\n",
        )
        # a NUL in the user name is VICIdial's to filter out: the login goes on without it
        response = live.get("function=did_info&user=ad%00min&pass=1234&source=crm&did_pattern=1")
        assert response.status_code == 200


def test_a_multipart_charset_that_makes_surrogates_is_refused(live):
    # +2AA- is UTF-7 for a lone surrogate
    body = b"--b\r\nContent-Disposition: form-data; name=user\r\n\r\n+2AA-\r\n--b--\r\n"
    response = live.client.post(
        live.url + "/vicidial/non_agent_api.php?function=update_did&pass=1234&source=crm",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b; charset=utf-7"},
    )
    assert (response.status_code, response.text) == (
        400,
        "ERROR: INVALID TEXT | user holds a lone surrogate, which is not a character\n",
    )


def test_a_nul_in_the_user_name_is_refused_before_any_login(live):
    with live.engine.connect() as conn:
        before = conn.exec_driver_sql(
            "SELECT failed_login_count FROM vicidial_users WHERE user='admin'"
        ).scalar_one()
    response = live.get("function=update_did&user=admin%00&pass=1234&source=crm")
    assert (response.status_code, response.text) == (
        400,
        "ERROR: INVALID TEXT | user holds a NUL character\n",
    )
    response = live.get("function=update_did&pass=1234&source=crm", auth=("admin", "x\x00y"))
    assert response.text == "ERROR: INVALID TEXT | pass holds a NUL character\n"
    with live.engine.connect() as conn:
        after = conn.exec_driver_sql(
            "SELECT failed_login_count FROM vicidial_users WHERE user='admin'"
        ).scalar_one()
    assert after == before


@pytest.mark.mariadb
@pytest.mark.parametrize("charset", ["latin1", "gbk", "sjis"])
def test_on_a_narrow_connection_an_identifier_it_lacks_is_refused(mariadb_url, charset):
    from vicidid.cli import demo
    from vicidid.store.db import make_engine
    from vicidid.store.schema import init_db

    engine = make_engine(mariadb_url.replace("charset=utf8mb4", f"charset={charset}"))
    assert engine.url.query["charset"] == charset
    init_db(engine)
    demo.load(engine)
    emoji = "%F0%9F%98%80"
    login = "function=update_did&user=admin&pass=1234&source=crm&did_pattern=18001234567"
    try:
        with serve(engine) as live:
            response = live.get(f"function=update_did&user={emoji}&pass=1234&source=crm")
            assert (response.status_code, response.text) == (
                400,
                "ERROR: INVALID TEXT | user holds a character the database cannot store\n",
            )
            response = live.get(login.replace("18001234567", "1800" + emoji))
            assert response.status_code == 400 and "did_pattern" in response.text
            # a value for a column: refused for its characters as before, and logged with
            # what the connection cannot carry written `?`
            response = live.get(login + f"&did_description=Main{emoji}Line")
            assert response.status_code == 200
            assert response.text.startswith("ERROR: INVALID did_description | only letters")
            with engine.connect() as conn:
                data = conn.exec_driver_sql(
                    "SELECT data FROM vicidial_api_log ORDER BY api_id DESC LIMIT 1"
                ).scalar_one()
            assert data == "Main?Line"
        with serve(engine, "vicidial") as live:  # VICIdial's filter leaves "": a failed login
            response = live.get(f"function=update_did&user={emoji}&pass=1234&source=crm")
            assert (response.status_code, response.text) == (
                200,
                "ERROR: Login incorrect, please try again: |||BAD|\n",
            )
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_on_vicidials_latin1_tables_a_user_name_latin1_lacks_is_refused(vicidial_url):  # noqa: F811
    """A utf8mb4 connection carries any name, but MariaDB refuses to compare a latin1
    column with text latin1 lacks (1267, illegal mix of collations): refused at the edge."""
    from vicidid.store.db import make_engine

    engine = make_engine(vicidial_url)
    login = "function=did_info&pass=1234&source=crm&did_pattern=18001234567"
    try:
        with serve(engine) as live:
            for name in ("%F0%9F%98%80", "%C2%80"):
                response = live.get(f"{login}&user={name}")
                assert (response.status_code, response.text) == (
                    400,
                    "ERROR: INVALID TEXT | user holds a character the database cannot store\n",
                )
            response = live.get(login, auth=("\U0001f600", "1234"))
            assert response.status_code == 400 and "user holds" in response.text
            # latin1 has the euro sign: an unknown user, as any other
            response = live.get(f"{login}&user=%E2%82%AC")
            assert response.text == "ERROR: INVALID USERNAME OR PASSWORD\n"
    finally:
        engine.dispose()

"""The HTTP edge against a hostile client: no redirects built from the Host header, and
/metrics answered only to those allowed to read it; the API path's methods and headers."""

from __future__ import annotations

import logging
import re
import socket
import sys

import pytest

from tests.conftest import serve
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

"""Operations, for real: `vicidid serve` as a subprocess with several workers, TLS,
/metrics, /healthz and the access log."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from vicidid.cli import main

SECRET = "1234"
UPDATE = (
    "/vicidial/non_agent_api.php?function=update_did&user=admin&pass=1234&source=ops"
    "&did_pattern=18001234567&did_description=Change+{n:04d}"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, url: str, process: subprocess.Popen, log: Path, out):
        self.url, self.process, self.log, self.out = url, process, log, out


def start(db_url: str, tmp_path: Path, *args: str, scheme: str = "http", verify=True) -> Served:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    out = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "vicidid", "--db", db_url, "serve", "--port", str(port), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", verify=verify, timeout=2).status_code == 200:
                return Served(url, process, log, out)
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    out.close()
    raise RuntimeError("server did not start: " + log.read_text())


def stop(served: Served) -> str:
    served.process.terminate()
    try:
        served.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
    served.out.close()
    return served.log.read_text()


@pytest.fixture
def demo_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    assert CliRunner().invoke(main, ["--db", url, "init-db", "--demo"]).exit_code == 0
    return url


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_two_workers_answer_log_and_count_together(demo_db, tmp_path):
    served = start(demo_db, tmp_path, "--workers", "2", "--log-format", "json")
    try:

        def one(n: int) -> str:
            return httpx.get(served.url + UPDATE.format(n=n), timeout=60).text

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(200)))
        assert answers == ["SUCCESS: 18001234567 | DID Updated Successfully\n"] * 200
        bad = httpx.get(served.url + UPDATE.format(n=0).replace("pass=1234", "pass=nope"))
        assert bad.text == "ERROR: INVALID USERNAME OR PASSWORD\n"
        assert re.fullmatch(r"[0-9a-f]{12}", bad.headers["x-request-id"])
        text = ""
        for _ in range(5):  # whichever worker answers, the totals are the same
            text = httpx.get(served.url + "/metrics").text
            assert (
                metric(text, "vicidid_requests_total", function="update_did", result="updated")
                == 200
            )
        assert (
            metric(text, "vicidid_requests_total", function="update_did", result="bad_login") == 1
        )
        assert metric(text, "vicidid_dids_changed_total", function="update_did") == 200
        assert metric(text, "vicidid_request_seconds_count", function="update_did") == 201
        httpx.get(
            served.url + "/vicidial/non_agent_api.php?function=made_up_name&user=admin"
            "&pass=1234&source=ops"
        )
        text = httpx.get(served.url + "/metrics").text
        assert "made_up_name" not in text
        assert (
            metric(text, "vicidid_requests_total", function="unknown", result="unknown_function")
            == 1
        )
    finally:
        output = stop(served)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("logger") == "vicidid.access"]
    assert len(requests) == 202
    assert {r["result"] for r in requests} == {"updated", "bad_login", "unknown_function"}
    assert all("pass=" not in r["path"] for r in requests)
    assert f"pass={SECRET}" not in output and "pass=nope" not in output


def test_text_access_log_never_shows_a_password(demo_db, tmp_path):
    served = start(demo_db, tmp_path)
    try:
        httpx.get(served.url + UPDATE.format(n=1))
        httpx.post(
            served.url + "/vicidial/non_agent_api.php",
            data={
                "function": "update_did",
                "user": "admin",
                "pass": "Sekrit99",
                "source": "ops",
                "did_pattern": "18001234567",
                "did_active": "N",
            },
        )
        httpx.get(
            served.url + "/vicidial/non_agent_api.php?function=update_did&source=ops"
            "&did_pattern=18001234567",
            auth=("admin", "Basic5ecret"),
        )
    finally:
        output = stop(served)
    access = [line for line in output.splitlines() if "vicidid.access" in line]
    assert len(access) == 3
    assert "function=update_did" in access[0] and "user=admin" in access[0]
    for secret in ("pass=1234", "Sekrit99", "Basic5ecret"):
        assert secret not in output


def test_tls(demo_db, tmp_path):
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    import ssl

    context = ssl.create_default_context(cafile=str(certfile))
    served = start(
        demo_db,
        tmp_path,
        "--ssl-certfile",
        str(certfile),
        "--ssl-keyfile",
        str(keyfile),
        scheme="https",
        verify=context,
    )
    try:
        r = httpx.get(served.url + UPDATE.format(n=7), verify=context)
        assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
        with pytest.raises(httpx.ConnectError):
            httpx.get(served.url + "/healthz")  # not trusted without the certificate
    finally:
        stop(served)


TOKEN = "ops-metrics-token-0123456789"


def test_metrics_on_a_listener_of_their_own_add_up_both_workers(demo_db, tmp_path):
    metrics_port = free_port()
    served = start(
        demo_db,
        tmp_path,
        "--workers",
        "2",
        "--metrics-host",
        "127.0.0.1",
        "--metrics-port",
        str(metrics_port),
        "--metrics-token",
        TOKEN,
    )
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: httpx.get(served.url + UPDATE.format(n=n)), range(40)))
        assert httpx.get(served.url + "/metrics").status_code == 404
        elsewhere = f"http://127.0.0.1:{metrics_port}"
        refused = httpx.get(elsewhere + "/metrics")
        assert refused.status_code == 401 and "vicidid_requests" not in refused.text
        assert httpx.get(elsewhere + "/other").status_code == 404
        auth = {"authorization": f"Bearer {TOKEN}"}
        for _ in range(3):
            text = httpx.get(elsewhere + "/metrics", headers=auth).text
            assert (
                metric(text, "vicidid_requests_total", function="update_did", result="updated")
                == 40
            )
    finally:
        output = stop(served)
    assert TOKEN not in output


def outward_address() -> str | None:
    """This machine's address on a network, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_metrics_without_a_token_answer_loopback_only(demo_db, tmp_path):
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    served = start(demo_db, tmp_path, "--host", "0.0.0.0")
    try:
        port = served.url.rsplit(":", 1)[1]
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
        remote = httpx.get(f"http://{address}:{port}/metrics")
        assert remote.status_code == 403 and "vicidid_requests" not in remote.text
        assert httpx.get(f"http://{address}:{port}/healthz").status_code == 200
    finally:
        stop(served)


def test_a_short_metrics_token_is_refused(demo_db):
    result = CliRunner().invoke(main, ["--db", demo_db, "serve", "--metrics-token", "short"])
    assert result.exit_code != 0
    assert "16 or more" in result.output

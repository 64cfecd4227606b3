"""/docs works with the network unplugged: headless Chromium, everything but 127.0.0.1 blocked.

Needs Debian's `chromium` package (scripts/test installs it when it can); without it the
test is skipped and says why.
"""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from vicidid.web.openapi import document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dead_port() -> int:
    """A loopback port nothing listens on: the proxy every outside request is sent to."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rendered(url: str, profile) -> str:
    """The page's DOM after its scripts ran, as headless Chromium saw it offline."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # no name resolves but 127.0.0.1, and anything else goes to a proxy that is not there
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{dead_port()}",
        "--proxy-bypass-list=127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian package `chromium`; scripts/test installs it)",
)
def test_docs_list_every_operation_offline(live, tmp_path):
    dom = rendered(f"{live.url}/docs", tmp_path / "profile")
    operations = {
        op["operationId"] for path in document()["paths"].values() for op in path.values()
    }
    assert operations == {"api_get", "api_post", "healthz"}
    for operation_id in operations:
        assert f'id="operations-default-{operation_id}"' in dom, operation_id
    assert 'data-path="/vicidial/non_agent_api.php"' in dom


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_an_outside_address_is_really_blocked(tmp_path):
    """The check above means something only if the outside is unreachable."""
    dom = rendered("https://unpkg.com/swagger-ui-dist@5/swagger-ui.css", tmp_path / "profile")
    assert "swagger-ui" not in dom

"""`vicidid throttle list` and `vicidid throttle clear`, on windows the store really
claimed, on SQLite and MariaDB."""

from __future__ import annotations

import time
from datetime import datetime

import sqlalchemy as sa
from click.testing import CliRunner

from vicidid.auth.throttle import Limit
from vicidid.cli import main
from vicidid.store import tables as t
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.store.statements import throttle as windows

LIMIT = Limit(30, 60)


# serve's limit, whatever the environment running the tests says
NO_LIMIT_SET: dict[str, str | None] = {"VICIDID_LOGIN_THROTTLE": None}


def run(url: str, *args: str, env: dict[str, str | None] = NO_LIMIT_SET):
    return CliRunner().invoke(main, ["--db", url, *args], env=env)


def claim(url: str, address: str, times: int, now: int, limit: Limit = LIMIT) -> None:
    """`times` failed logins from `address`, counted as the login counts them."""
    engine = make_engine(url)
    for _ in range(times):
        with engine.begin() as conn:
            failures, start = windows.window(conn, address)
            seen = start if failures is not None else None
            assert windows.claim(conn, address, now, limit, seen) is not None
    engine.dispose()


def counted(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.login_throttle.c.address, t.login_throttle.c.failures))
        found = {address: failures for address, failures in rows}
    engine.dispose()
    return found


def ready(url: str) -> str:
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    return url


def test_list_shows_the_running_windows_and_which_are_refused(db_url):
    url = ready(db_url)
    now = int(time.time())
    claim(url, "203.0.113.7", 30, now - 5)
    claim(url, "2001:db8:1:2::/64", 3, now - 10)
    claim(url, "198.51.100.1", 2, now - 600)  # a window that ended long ago
    r = run(url, "throttle", "list")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["ADDRESS", "FAILURES", "STARTED", "ENDS", "REFUSED"]
    first, second = lines[1].split(), lines[2].split()
    started = datetime.fromtimestamp(now - 5).strftime("%Y-%m-%d %H:%M:%S")
    ends = datetime.fromtimestamp(now + 55).strftime("%Y-%m-%d %H:%M:%S")
    assert first == ["203.0.113.7", "30", *started.split(), *ends.split(), "yes"]
    assert second[:2] == ["2001:db8:1:2::/64", "3"] and second[-1] == "no"
    assert "198.51.100.1" not in r.output
    assert lines[-1] == (
        "2 addresses with failed logins counted (limit 30/60: refused after 30 in 60 seconds)"
    )


def test_list_takes_the_limit_serve_runs_with(db_url):
    url = ready(db_url)
    now = int(time.time())
    claim(url, "203.0.113.7", 5, now - 100, Limit(30, 3600))
    default = run(url, "throttle", "list")
    assert "203.0.113.7" not in default.output and default.output.startswith("0 addresses")
    hour = run(url, "throttle", "list", "--login-throttle", "5/3600")
    assert hour.exit_code == 0, hour.output
    assert hour.output.splitlines()[1].split()[-1] == "yes"
    from_env = run(url, "throttle", "list", env={"VICIDID_LOGIN_THROTTLE": "6/3600"})
    assert from_env.output.splitlines()[1].split()[-1] == "no"
    assert "limit 6/3600" in from_env.output
    bad = run(url, "throttle", "list", "--login-throttle", "lots")
    assert bad.exit_code == 1 and "must look like 30/60" in bad.output
    off = run(url, "throttle", "list", "--login-throttle", "off")
    assert off.exit_code == 0 and "the login throttle is off" in off.output


def test_clear_forgets_one_address_and_says_so(db_url):
    url = ready(db_url)
    now = int(time.time())
    claim(url, "203.0.113.7", 30, now)
    claim(url, "203.0.113.8", 1, now)
    r = run(url, "throttle", "clear", "203.0.113.7")
    assert r.exit_code == 0, r.output
    assert r.output == "cleared 203.0.113.7: 30 failed logins forgotten\n"
    assert counted(url) == {"203.0.113.8": 1}
    again = run(url, "throttle", "clear", "203.0.113.7")
    assert again.exit_code == 1
    assert again.output == "Error: no failed logins counted for 203.0.113.7\n"


def test_clear_takes_an_ipv6_address_to_its_64(db_url):
    url = ready(db_url)
    claim(url, "2001:db8:1:2::/64", 1, int(time.time()))
    r = run(url, "throttle", "clear", "2001:db8:1:2:aaaa::9")
    assert r.exit_code == 0, r.output
    assert r.output == (
        "cleared 2001:db8:1:2::/64 (which 2001:db8:1:2:aaaa::9 counts as): "
        "1 failed login forgotten\n"
    )
    assert counted(url) == {}
    mapped = run(url, "throttle", "clear", "::ffff:192.0.2.1")
    assert mapped.exit_code == 1
    assert "no failed logins counted for 192.0.2.1 (which ::ffff:192.0.2.1 counts as)" in (
        mapped.output
    )


def test_without_the_table_both_commands_name_init_db_add_missing(db_url):
    url = ready(db_url)
    engine = make_engine(url)
    t.login_throttle.drop(engine)
    engine.dispose()
    for args in (("throttle", "list"), ("throttle", "clear", "203.0.113.7")):
        r = run(url, *args)
        assert r.exit_code == 1, r.output
        assert len(r.output.splitlines()) == 1 and "Traceback" not in r.output
        assert "vicidid_login_throttle is missing" in r.output
        assert "vicidid init-db --add-missing" in r.output

"""`vicidid serve` says "serving" only once the port is bound; a taken port is one line."""

from __future__ import annotations

import socket

import sqlalchemy as sa
from click.testing import CliRunner

from vicidid.cli import main
from vicidid.store import tables as t


def test_a_taken_port_is_one_clear_line_and_exit_code_2(sqlite_url):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["--db", sqlite_url, "serve", "--port", str(port)])
    assert result.exit_code == 2
    assert "serving" not in result.stdout
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is in use: stop what listens there, or pick "
        "another port with --port\n"
    )


def test_a_bad_fallback_url_is_refused_before_serving(sqlite_url):
    CliRunner().invoke(main, ["--db", sqlite_url, "init-db"])
    result = CliRunner().invoke(
        main, ["--db", sqlite_url, "serve", "--fallback-url", "ftp://x/non_agent_api.php"]
    )
    assert result.exit_code == 1
    assert "serving" not in result.stdout
    assert "the fallback URL must be http(s)://" in result.stderr


def started(url: str, monkeypatch, *args: str):
    """`vicidid serve`'s output up to serving, the server itself left out."""
    from vicidid.web import server

    monkeypatch.setattr(server, "run", lambda *a, on_bound, **kw: on_bound())
    monkeypatch.delenv("VICIDID_LOGIN_THROTTLE", raising=False)
    return CliRunner().invoke(main, ["--db", url, "serve", "--port", "8099", *args])


def test_serving_says_where_the_login_throttle_counts(sqlite_url, monkeypatch):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    result = started(sqlite_url, monkeypatch, "--workers", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("vicidid serving ")
    assert lines[1] == (
        "login throttle 30/60 per address, counted in vicidid_login_throttle: shared by every "
        "worker and every server on this database"
    )
    off = started(sqlite_url, monkeypatch, "--no-login-throttle")
    assert off.stdout.splitlines()[1] == "login throttle: off"


def test_without_the_table_serving_says_each_process_counts_alone(sqlite_url, monkeypatch):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    engine = sa.create_engine(sqlite_url)
    t.login_throttle.drop(engine)
    engine.dispose()
    result = started(sqlite_url, monkeypatch, "--login-throttle", "5/10")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "login throttle 5/10 per address, counted in each worker process on its own: "
        "vicidid_login_throttle is missing (`vicidid init-db --add-missing` adds it)"
    )
    assert result.stderr == (
        "warning: vicidid_login_throttle is missing: the login throttle counts in each worker "
        "process on its own until `vicidid init-db --add-missing` adds it\n"
    )

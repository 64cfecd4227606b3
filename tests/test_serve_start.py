"""`vicidid serve` says "serving" only once the port is bound; a taken port is one line."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from vicidid.cli import main


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

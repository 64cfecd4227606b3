"""The server's settings: each field's flag, environment variable and default agree with
`vicidid serve`'s options and with docs/deploy.md's table, each declared once (web/settings.py);
the workers receive them whole."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import serve
from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from tests.test_faults import innodb_url  # noqa: F401  (a fixture)
from vicidid.auth.throttle import Limit
from vicidid.cli import main
from vicidid.web import server
from vicidid.web import settings as s
from vicidid.web.app import create_app
from vicidid.web.settings import Settings

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "docs" / "deploy.md"
# environment variables that are not server settings: a command's credentials, the handover
# the client's credentials, the handover itself, and what `vicidid setup` tells the
# command it runs in place of systemctl
NOT_SETTINGS = {
    "VICIDID_PASSWORD",
    "VICIDID_USER",
    s.HANDED_OVER,
    "VICIDID_SETUP",
    "VICIDID_SETUP_ROOT",
}


def table() -> list[tuple[str, str, str]]:
    """docs/deploy.md's table of settings: (option, environment variable, default) a row."""
    text = DEPLOY.read_text()
    section = text[text.index("\n## Settings\n") :]
    section = section[: section.index("\n## ", 1)]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `--"):
            rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2]))
    return rows


def shown(name: str) -> str:
    text = s.default_text(name)
    return f"`{text}`" if text else "none"


def test_each_setting_has_one_row_in_the_docs_that_agrees():
    rows = table()
    expected = [(how.flag, how.env, shown(name)) for name, how in s.fields()]
    assert sorted(rows) == sorted(expected)
    assert len({r[0] for r in rows}) == len(rows) == len({r[1] for r in rows})


def options(command: click.Command) -> dict[str, click.Option]:
    return {flag: p for p in command.params if isinstance(p, click.Option) for flag in p.opts}


def test_each_setting_is_one_option_with_its_variable_and_default():
    serve_command = main.commands["serve"]
    assert isinstance(serve_command, click.Command)
    declared = {**options(serve_command), **options(main)}
    for name, how in s.fields():
        option = declared[how.flag]
        assert option.name == name
        assert option.envvar == how.env
        default = option.default
        assert (" ".join(default) if isinstance(default, tuple) else str(default)) == (
            s.default_text(name)
        )
        # the default's text reads back as the field's default
        assert how.read(s.default_text(name)) == getattr(Settings(), name)
    # every option of serve that reads the environment is a setting
    readers = {o.envvar for o in options(serve_command).values() if o.envvar}
    assert readers <= {how.env for _, how in s.fields()}


def test_no_module_reads_a_setting_of_its_own():
    """A VICIDID_ variable named anywhere in the package but web/settings.py is not a
    server setting (which would then be declared in two places)."""
    named = set()
    for path in (ROOT / "vicidid").rglob("*.py"):
        if path.name != "settings.py":
            named |= set(re.findall(r"VICIDID_[A-Z_]+", path.read_text()))
    assert named <= NOT_SETTINGS, named - NOT_SETTINGS


def test_each_setting_is_a_field_with_a_flag_and_a_variable():
    names = [f.name for f in dataclasses.fields(Settings)]
    assert names == [name for name, _ in s.fields()]
    for _, how in s.fields():
        assert how.flag.startswith("--") and how.env.startswith("VICIDID_")


CHANGED = Settings(
    db_url="mysql://u:secret@127.0.0.1/asterisk",
    dialect="vicidial",
    trusted_proxies=("127.0.0.1", "::1"),
    login_throttle=None,
    log_format="json",
    metrics_token="t" * 20,
    metrics_host="127.0.0.1",
    metrics_port=9999,
    fallback_url="http://127.0.0.1:8082/vicidial/non_agent_api.php",
    fallback_timeout=2.5,
    max_header_bytes=1000,
    max_header_lines=10,
    header_timeout=1.5,
    keep_alive_timeout=7,
    max_connections=50,
    max_waiting=3,
    access_log_queue=20,
    max_body=4096,
    pool_size=2,
    request_threads=1,
    read_url="mysql://u:secret@127.0.0.2/asterisk",
    read_max_lag=2.5,
    drain_grace=4.0,
    astguiclient="/etc/astguiclient.conf",
)


def test_every_field_is_changed_in_the_sample():
    for name in s.SETTINGS:
        assert getattr(CHANGED, name) != getattr(Settings(), name), name


def test_the_workers_receive_the_settings_whole(monkeypatch):
    assert Settings.loads(CHANGED.dumps()) == CHANGED
    assert Settings.loads(Settings().dumps()) == Settings()
    # a worker's app, on a database it can open, its log as the tests' own
    handed = dataclasses.replace(CHANGED, db_url="sqlite://")
    monkeypatch.setenv(s.HANDED_OVER, handed.dumps())
    monkeypatch.setenv("VICIDID_DIALECT", "simple")  # the handover wins over the variables
    logs: list[tuple[object, ...]] = []
    monkeypatch.setattr(server.access_log, "configure", lambda *a: logs.append(a))
    app = server.app_from_env()
    assert app.state.settings == handed
    assert logs == [("json", 20)]


def test_request_threads_are_chosen_for_the_database_unless_given():
    assert Settings().threads(row_locks=True) == 4  # InnoDB
    assert Settings().threads(row_locks=False) == 8  # MyISAM, SQLite: the whole pool
    assert Settings(pool_size=3).threads(row_locks=True) == 3  # never past the pool
    assert Settings(pool_size=12).threads(row_locks=False) == 12
    assert Settings(request_threads=6).threads(row_locks=True) == 6
    assert Settings(request_threads=2).threads(row_locks=False) == 2
    with pytest.raises(ValueError, match=r"request threads \(9\) must be 0 .* pool size \(8\)"):
        Settings(request_threads=9)
    with pytest.raises(ValueError, match="VICIDID_REQUEST_THREADS"):
        Settings.from_env({"VICIDID_REQUEST_THREADS": "-1"})


def test_a_worker_runs_the_request_threads_it_was_handed():
    app = create_app(Settings(db_url="sqlite://", request_threads=3))
    assert app.api.threads.size == 3
    # a Settings no `vicidid serve` chose for: a thread per pooled connection
    assert create_app(Settings(db_url="sqlite://", pool_size=5)).api.threads.size == 5


def test_the_environment_is_read_through_the_same_declaration():
    env = {how.env: how.text(getattr(CHANGED, name)) for name, how in s.fields()}
    assert Settings.from_env(env) == CHANGED
    assert Settings.from_env({"VICIDID_LOGIN_THROTTLE": "5/10"}).login_throttle == Limit(5, 10)
    # an empty variable is unset; a metrics port alone listens on loopback
    assert Settings.from_env({"VICIDID_DIALECT": "", "VICIDID_TRUSTED_PROXY": " "}) == Settings()
    alone = Settings.from_env({"VICIDID_METRICS_PORT": "9300"})
    assert (alone.metrics_host, alone.metrics_port) == ("127.0.0.1", 9300)
    with pytest.raises(ValueError, match="VICIDID_POOL_SIZE"):
        Settings.from_env({"VICIDID_POOL_SIZE": "many"})


def given_to_serve(url: str, monkeypatch, *args: str, env: dict[str, str] | None = None):
    """The Settings `vicidid serve` would run with, the server itself left out."""
    seen: list[Settings] = []

    def run(settings, *a, on_bound, **kw):
        seen.append(settings)

    monkeypatch.setattr(server, "run", run)
    for _, how in s.fields():
        monkeypatch.delenv(how.env, raising=False)
    result = CliRunner().invoke(main, ["--db", url, "serve", *args], env=env)
    assert result.exit_code == 0, result.output
    return seen[0]


def test_a_flag_wins_over_its_variable_which_wins_over_the_default(sqlite_url, monkeypatch):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    # SQLite: serve chose the whole pool for the request threads
    assert given_to_serve(sqlite_url, monkeypatch) == Settings(db_url=sqlite_url, request_threads=8)
    env = {"VICIDID_TRUSTED_PROXY": "10.0.0.1 10.0.0.2", "VICIDID_POOL_SIZE": "3"}
    from_env = given_to_serve(sqlite_url, monkeypatch, env=env)
    # serve keeps the trusted proxies of the environment (it once set them empty)
    assert from_env.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert from_env.pool_size == 3
    flagged = given_to_serve(
        sqlite_url, monkeypatch, "--trusted-proxy", "10.0.0.9", "--pool-size", "5", env=env
    )
    assert (flagged.trusted_proxies, flagged.pool_size) == (("10.0.0.9",), 5)
    port_alone = given_to_serve(sqlite_url, monkeypatch, "--metrics-port", "9300")
    assert (port_alone.metrics_host, port_alone.metrics_port) == ("127.0.0.1", 9300)
    off = given_to_serve(sqlite_url, monkeypatch, "--no-login-throttle")
    assert off.login_throttle is None
    body = given_to_serve(sqlite_url, monkeypatch, env={"VICIDID_MAX_BODY": "2048"})
    assert body.max_body == 2048


def test_a_bad_value_in_the_environment_is_one_line(sqlite_url, monkeypatch):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    monkeypatch.setattr(server, "run", lambda *a, **kw: None)
    result = CliRunner().invoke(main, ["--db", sqlite_url, "serve"], env={"VICIDID_MAX_BODY": "0"})
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--max-body': 0 is not in the range x>=1."
    )


def test_the_body_limit_is_settable_and_said_in_words(demo_engine):
    with serve(demo_engine, max_body=1000) as live:
        r = live.post({"function": "update_did", "did_description": "x" * 2000})
        assert r.status_code == 413
        assert r.text == "ERROR: REQUEST TOO LARGE | at most 1000 bytes\n"
    assert Settings(max_body=64 * 1024).body_words() == "64 KiB"
    assert Settings().body_words() == "1 MiB"


def threads_chosen(url: str, monkeypatch, *args: str, env: dict[str, str] | None = None) -> int:
    return given_to_serve(url, monkeypatch, *args, env=env).request_threads


def test_on_innodb_serve_runs_a_few_request_threads(request, monkeypatch):
    # a write locks only its rows: past a few threads, more only contend for the interpreter
    url = request.getfixturevalue("innodb_url")
    assert threads_chosen(url, monkeypatch) == 4
    assert threads_chosen(url, monkeypatch, "--pool-size", "2") == 2
    assert threads_chosen(url, monkeypatch, "--request-threads", "8") == 8
    assert threads_chosen(url, monkeypatch, env={"VICIDID_REQUEST_THREADS": "3"}) == 3


def test_on_myisam_and_sqlite_serve_runs_the_whole_pool(request, sqlite_url, monkeypatch):
    # a write locks the whole table (the whole file): requests wait on each other's locks
    url = request.getfixturevalue("vicidial_url")
    assert threads_chosen(url, monkeypatch) == 8
    assert threads_chosen(url, monkeypatch, "--pool-size", "12") == 12
    assert threads_chosen(url, monkeypatch, env={"VICIDID_REQUEST_THREADS": "3"}) == 3
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    assert threads_chosen(sqlite_url, monkeypatch, "--pool-size", "6") == 6


def test_serve_refuses_more_request_threads_than_connections(sqlite_url):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    args = ["--db", sqlite_url, "serve", "--request-threads", "9", "--pool-size", "8"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "serving" not in result.stdout
    assert "request threads (9) must be 0 (chosen for the database) to the pool size (8)" in (
        result.stderr
    )

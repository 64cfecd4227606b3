"""VICIdial's /etc/astguiclient.conf: read as VICIdial's own Perl reads it, the URL built from
it, and --astguiclient / VICIDID_ASTGUICLIENT on the command line."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from tests.test_existing_vicidial import load_vicidial
from vicidid.cli import main
from vicidid.cli.context import context_for
from vicidid.errors import ConfigError
from vicidid.store import astguiclient as ast
from vicidid.store.astguiclient import parse
from vicidid.web.settings import Settings

BASE = {
    "VARDB_server": "10.0.0.5",
    "VARDB_database": "asterisk",
    "VARDB_user": "cron",
    "VARDB_pass": "1234",
}


def conf(**lines: str) -> str:
    """A file with the four keys as VICIdial's installer writes them, some lines replaced."""
    keys = {k: f"{k} => {v}" for k, v in BASE.items()}
    keys.update(lines)
    return "# VICIdial's config\nPATHhome => /usr/share/astguiclient\n" + "\n".join(keys.values())


@pytest.mark.parametrize(
    "line",
    [
        "VARDB_server => 10.0.0.5",
        "VARDB_server=>10.0.0.5",
        "VARDB_server\t=>\t10.0.0.5",
        "   VARDB_server =>10.0.0.5   ",
        "VARDB_server = 10.0.0.5",
        "VARDB_server => 10.0.0.5\r",
        "VARDB_server => 10.0.0.5   # the database server",
        "VARDB_server => 10.0.0.5 ; the database server",
    ],
)
def test_spacing_variants_and_comments(line: str) -> None:
    config = parse(conf(VARDB_server=line))
    assert config.values["VARDB_server"] == "10.0.0.5"
    assert config.notes == []
    assert config.url() == "mysql://cron:1234@10.0.0.5:3306/asterisk"


def test_comment_lines_are_skipped_and_a_later_line_wins() -> None:
    text = (
        conf() + "\n# VARDB_server => 10.9.9.9\n#VARDB_user => nobody\nVARDB_server => 10.0.0.6\n"
    )
    config = parse(text)
    assert config.values["VARDB_server"] == "10.0.0.6"
    assert config.values["VARDB_user"] == "cron"
    assert config.lines["VARDB_server"] == 9


def test_the_custom_user_and_password_are_not_vicidids() -> None:
    text = conf() + "\nVARDB_custom_user => custom\nVARDB_custom_pass => custom1234\n"
    assert parse(text).url() == "mysql://cron:1234@10.0.0.5:3306/asterisk"


def test_port_defaults_to_3306_as_in_vicidial_and_is_read_when_given() -> None:
    assert parse(conf()).port == 3306
    config = parse(conf() + "\nVARDB_port => 3307")
    assert config.url().endswith("@10.0.0.5:3307/asterisk")


@pytest.mark.parametrize(
    ("written", "vicidial_reads"),
    [
        ("se=>cret", "cret"),  # after the last `=`, `>` dropped
        ("se#cret", "se"),  # a comment from `#` on
        ("se;cret", "se"),
        ("se cret", "secret"),  # spaces dropped
        ("a=b", "b"),
    ],
)
def test_a_password_with_special_characters_is_read_as_vicidial_reads_it(
    written: str, vicidial_reads: str
) -> None:
    config = parse(conf(VARDB_pass=f"VARDB_pass => {written}"), "/etc/astguiclient.conf")
    assert config.values["VARDB_pass"] == vicidial_reads
    assert config.notes == [
        "/etc/astguiclient.conf line 6: VARDB_pass holds `#`, `;`, `=`, `>` or a space, which "
        "VICIdial drops or cuts at; vicidid reads it as VICIdial does"
    ]
    assert written not in config.notes[0] and vicidial_reads not in config.notes[0]


def test_the_url_percent_encodes_user_and_password() -> None:
    config = parse(conf(VARDB_pass="VARDB_pass => p@ss/w:rd%?&", VARDB_user="VARDB_user => a@b"))
    url = config.url()
    assert url == "mysql://a%40b:p%40ss%2Fw%3Ard%25%3F%26@10.0.0.5:3306/asterisk"
    parsed = make_url(url)
    assert (parsed.username, parsed.password, parsed.host) == ("a@b", "p@ss/w:rd%?&", "10.0.0.5")


def test_an_empty_password_and_an_ipv6_server() -> None:
    config = parse(conf(VARDB_pass="VARDB_pass =>", VARDB_server="VARDB_server => ::1"))
    assert config.url() == "mysql://cron@[::1]:3306/asterisk"


@pytest.mark.parametrize("key", ["VARDB_server", "VARDB_database", "VARDB_user", "VARDB_pass"])
def test_a_missing_key_is_named(key: str) -> None:
    text = "\n".join(line for line in conf().splitlines() if not line.startswith(key))
    with pytest.raises(ConfigError) as error:
        parse(text, "/etc/astguiclient.conf")
    assert str(error.value) == (
        f"/etc/astguiclient.conf: no {key} line (VICIdial's database is not named)"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("VARDB_server =>", "line 3: VARDB_server is empty"),
        ("VARDB_server 10.0.0.5", "line 3: VARDB_server has no `=>` and no value"),
    ],
)
def test_a_malformed_line_names_the_line_and_the_key(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(conf(VARDB_server=line), "/x.conf")
    assert str(error.value) == f"/x.conf {message}"


def test_a_bad_port_is_named_without_the_password() -> None:
    text = conf(VARDB_pass="VARDB_pass => Hunter2xyz") + "\nVARDB_port => 33o6"
    with pytest.raises(ConfigError) as error:
        parse(text, "/x.conf")
    assert str(error.value) == "/x.conf line 7: VARDB_port is not a port number"


def test_unreadable_and_undecodable_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read .*missing.conf: No such file"):
        ast.read(tmp_path / "missing.conf")
    with pytest.raises(ConfigError, match=r"^cannot read .*: Is a directory"):
        ast.read(tmp_path)
    latin = tmp_path / "latin.conf"
    latin.write_bytes(conf().encode() + b"\nVARDB_pass => caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin.conf line 7: not UTF-8 text$"):
        ast.read(latin)


LINES = [
    "VARDB_server => 10.0.0.5",
    "  VARDB_database\t=>\tasterisk  # note",
    "VARDB_user=>cron;x",
    "VARDB_pass => a=>b#c",
    "VARDB_pass => se cr>et",
    "VARDB_port => 3306\r",
    "#VARDB_user => nobody",
]


def test_the_same_values_as_vicidials_own_perl(tmp_path) -> None:
    """VICIdial's two expressions, run by perl itself over the same lines."""
    perl = shutil.which("perl")
    if perl is None:
        pytest.skip("perl is not installed (VICIdial's reading is compared with perl's)")
    script = (
        "while (<>) { $line = $_; $line =~ s/ |>|\\n|\\r|\\t|\\#.*|;.*//gi;"
        " foreach $k (qw(VARDB_server VARDB_database VARDB_user VARDB_pass VARDB_port)) {"
        " if ($line =~ /^$k/) { $v = $line; $v =~ s/.*=//gi; $h{$k} = $v; } } }"
        ' foreach $k (sort keys %h) { print "$k\\t$h{$k}\\n"; }'
    )
    path = tmp_path / "astguiclient.conf"
    path.write_text("\n".join(LINES) + "\n")
    out = subprocess.run([perl, "-e", script, str(path)], capture_output=True, text=True).stdout
    perl_reads = dict(line.split("\t") for line in out.splitlines())
    config = ast.read(path)
    assert perl_reads == {k: v for k, v in config.values.items() if k.startswith("VARDB_")}
    assert perl_reads["VARDB_pass"] == "secret"


def test_found_hint(tmp_path) -> None:
    assert ast.found_hint(str(tmp_path / "none.conf"), "VICIDID_ASTGUICLIENT") is None
    path = tmp_path / "astguiclient.conf"
    path.write_text(conf())
    assert ast.found_hint(str(path), "VICIDID_ASTGUICLIENT") == (
        f"note: {path} found (a VICIdial server); this is not VICIdial's database. To serve "
        f"it, give --astguiclient {path} (or VICIDID_ASTGUICLIENT={path})"
    )


def test_context_hint_only_when_neither_option_is_given(tmp_path, monkeypatch) -> None:
    path = tmp_path / "astguiclient.conf"
    path.write_text(conf())
    monkeypatch.setattr(ast, "DEFAULT_PATH", str(path))
    assert context_for("sqlite:///x.db", False, None).hint is not None
    assert context_for("sqlite:///x.db", True, None).hint is None
    given = context_for("sqlite:///x.db", False, str(path))
    assert given.hint is None and given.db_url == "mysql://cron:1234@10.0.0.5:3306/asterisk"


def test_settings_from_env_takes_the_file_and_the_vicidial_dialect(tmp_path) -> None:
    path = tmp_path / "astguiclient.conf"
    path.write_text(conf())
    settings = Settings.from_env({"VICIDID_ASTGUICLIENT": str(path)})
    assert (settings.db_url, settings.dialect) == (
        "mysql://cron:1234@10.0.0.5:3306/asterisk",
        "vicidial",
    )
    both = Settings.from_env({"VICIDID_ASTGUICLIENT": str(path), "VICIDID_DB": "sqlite://"})
    assert (both.db_url, both.dialect) == ("sqlite://", "simple")


def test_cli_one_line_for_a_bad_file_never_the_password(tmp_path) -> None:
    path = tmp_path / "astguiclient.conf"
    path.write_text(conf(VARDB_pass="VARDB_pass => Hunter2xyz") + "\nVARDB_port => x")
    result = CliRunner().invoke(main, ["--astguiclient", str(path), "check-db"])
    assert result.exit_code == 1
    assert result.output == f"Error: {path} line 7: VARDB_port is not a port number\n"
    result = CliRunner().invoke(
        main, ["check-db"], env={"VICIDID_ASTGUICLIENT": str(tmp_path / "none")}
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: cannot read {tmp_path / 'none'}: No such file")


def test_cli_db_and_astguiclient_are_not_both_given(tmp_path) -> None:
    path = tmp_path / "astguiclient.conf"
    path.write_text(conf())
    result = CliRunner().invoke(
        main, ["--db", "sqlite://", "--astguiclient", str(path), "check-db"]
    )
    assert result.exit_code == 2
    assert "give --db or --astguiclient, not both" in result.output


@pytest.mark.mariadb
def test_cli_check_db_on_vicidials_database_from_the_file(tmp_path, mariadb_url) -> None:
    load_vicidial(mariadb_url)
    url = make_url(mariadb_url)
    path = tmp_path / "astguiclient.conf"
    path.write_text(
        f"VARDB_server => {url.host}\nVARDB_database => {url.database}\n"
        f"VARDB_user => {url.username}\nVARDB_pass => {url.password or ''}\n"
        f"VARDB_port => {url.port or 3306}\n"
    )
    result = CliRunner().invoke(main, ["check-db"], env={"VICIDID_ASTGUICLIENT": str(path)})
    assert result.exit_code == 0, result.output
    assert f"ok: vicidid can serve mysql://{url.username}" in result.output
    assert f"/{url.database}" in result.output


def serve_output(monkeypatch, *args: str, env: dict[str, str] | None = None):
    """`vicidid serve`'s output up to serving, the server itself left out."""
    from vicidid.web import server

    monkeypatch.setattr(server, "run", lambda *a, on_bound, **kw: on_bound())
    return CliRunner().invoke(main, [*args, "serve", "--port", "8099"], env=env)


def test_serve_says_when_vicidials_config_is_there_but_unused(
    tmp_path, sqlite_url, monkeypatch
) -> None:
    path = tmp_path / "astguiclient.conf"
    path.write_text(conf())
    monkeypatch.setattr(ast, "DEFAULT_PATH", str(path))
    monkeypatch.chdir(tmp_path)  # the default database, sqlite:///vicidid.db, lives here
    monkeypatch.delenv("VICIDID_DB", raising=False)
    assert CliRunner().invoke(main, ["init-db"]).exit_code == 0
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    hint = f"note: {path} found (a VICIdial server); this is not VICIdial's database."
    result = serve_output(monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("vicidid serving sqlite:///vicidid.db")
    assert any(line.startswith(hint) for line in result.stdout.splitlines())
    given = serve_output(monkeypatch, "--db", sqlite_url)
    assert given.exit_code == 0 and hint not in given.stdout


@pytest.mark.mariadb
def test_serve_from_the_file_answers_in_vicidials_words(tmp_path, mariadb_url, monkeypatch):
    load_vicidial(mariadb_url)
    url = make_url(mariadb_url)
    path = tmp_path / "astguiclient.conf"
    path.write_text(
        f"VARDB_server => {url.host}\nVARDB_database => {url.database}\n"
        f"VARDB_user => {url.username}\nVARDB_pass => {url.password or ''}\n"
    )
    result = serve_output(monkeypatch, "--astguiclient", str(path))
    assert result.exit_code == 0, result.output
    assert "(vicidial dialect, 1 worker)" in result.stdout.splitlines()[0]
    assert f"database from {path}" in result.stdout.splitlines()
    simple = serve_output(
        monkeypatch, "--astguiclient", str(path), env={"VICIDID_DIALECT": "simple"}
    )
    assert "(simple dialect, 1 worker)" in simple.stdout.splitlines()[0]

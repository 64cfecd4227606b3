"""The `vicidid` command through click's CliRunner, on real SQLite files."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from vicidid.cli import main


def run(url: str, *args: str):
    return CliRunner().invoke(main, ["--db", url, *args])


def test_init_db_demo_then_again_adds_nothing(sqlite_url):
    first = run(sqlite_url, "init-db", "--demo")
    assert first.exit_code == 0, first.output
    assert "user admin" in first.output and "DID 18001234567" in first.output
    again = run(sqlite_url, "init-db", "--demo")
    assert again.exit_code == 0
    assert "demo data: already there" in again.output


def test_demo_database_has_no_plain_passwords(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        settings = conn.execute(sa.text("SELECT * FROM system_settings")).mappings().one()
        users = conn.execute(sa.text("SELECT user, pass, pass_hash FROM vicidial_users")).all()
    assert settings["pass_hash_enabled"] == 1 and settings["pass_cost"] == 10
    assert len(settings["pass_key"]) == 16
    assert all(p == "" and len(h) == 31 for _, p, h in users)


def test_env_var_and_flag_precedence(tmp_path, monkeypatch):
    env_db = f"sqlite:///{tmp_path / 'env.db'}"
    flag_db = f"sqlite:///{tmp_path / 'flag.db'}"
    monkeypatch.setenv("VICIDID_DB", env_db)
    assert CliRunner().invoke(main, ["init-db"]).exit_code == 0
    assert (tmp_path / "env.db").exists()
    assert CliRunner().invoke(main, ["--db", flag_db, "init-db"]).exit_code == 0
    assert (tmp_path / "flag.db").exists()


def test_user_add_and_set(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    r = run(sqlite_url, "user", "add", "api1", "--password", "pw1", "--functions", "update_did")
    assert r.exit_code == 0, r.output
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        row = (
            conn.execute(sa.text("SELECT * FROM vicidial_users WHERE user='api1'")).mappings().one()
        )
    assert (row["user_level"], row["user_group"], row["vdc_agent_api_access"]) == (9, "ADMIN", "1")
    assert (row["modify_inbound_dids"], row["delete_inbound_dids"]) == ("1", "0")
    assert row["api_allowed_functions"] == " update_did "
    r = run(sqlite_url, "user", "set", "api1", "--no-api", "--functions", "ALL", "--level", "8")
    assert r.exit_code == 0, r.output
    with engine.connect() as conn:
        row = (
            conn.execute(sa.text("SELECT * FROM vicidial_users WHERE user='api1'")).mappings().one()
        )
    assert (row["vdc_agent_api_access"], row["user_level"]) == ("0", 8)
    assert row["api_allowed_functions"] == " ALL_FUNCTIONS "


def test_bad_input_exits_non_zero_with_one_message(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    cases = [
        (("user", "add", "admin", "--password", "x"), "already exists"),
        (("user", "add", "new1", "--password", "x", "--group", "NOPE"), "no user group named"),
        (("user", "add", "bad name", "--password", "x"), "user names are"),
        (("user", "add", "new2", "--password", "x", "--level", "12"), "--level must be"),
        (("user", "set", "ghost", "--level", "9"), "no user named ghost"),
        (("user", "set", "admin"), "nothing to change"),
        (("group", "add", "ADMIN"), "already exists"),
        (("ingroup", "add", "SALES_TEAM"), "already exists"),
        (("server", "add", "10.0.0.5;DROP"), "not a valid server id"),
        (("did", "show", "19990000000"), "no DID 19990000000"),
    ]
    for args, message in cases:
        r = run(sqlite_url, *args)
        assert r.exit_code != 0, args
        assert message in r.output, (args, r.output)
        assert "Traceback" not in r.output


def test_reference_rows_and_did_commands(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    assert run(sqlite_url, "ingroup", "add", "SUPPORT").exit_code == 0
    assert run(sqlite_url, "menu", "add", "NIGHT_MENU").exit_code == 0
    assert run(sqlite_url, "server", "add", "10.0.0.7").exit_code == 0
    assert run(sqlite_url, "group", "add", "SALES", "--viewable", "SALES").exit_code == 0
    r = run(sqlite_url, "did", "list")
    assert "18001234567" in r.output and "IN_GROUP" in r.output and "1 DID" in r.output
    r = run(sqlite_url, "did", "show", "18001234567")
    assert "Customer Support Line" in r.output and "user_group" in r.output
    assert "no recorded changes" in run(sqlite_url, "did", "history", "18001234567").output


def test_history_works_out_before_and_after_from_the_admin_log(live):
    base = "user=admin&pass=1234&source=test"
    live.get(
        f"function=update_did&{base}&did_pattern=18001234567&did_route=CALLMENU&menu_id=MAIN_MENU"
    )
    live.get(f"function=update_did&{base}&did_pattern=18001234567&did_route=EXTEN")
    live.get(f"function=copy_did&{base}&did_pattern=18001234567&new_did_pattern=18002223333")
    live.get(f"function=add_did&{base}&did_pattern=18005550000&did_description=Night%20line")
    live.get(f"function=update_did&{base}&did_pattern=18005550000&did_description=Day%20line")
    url = live.engine.url.render_as_string(hide_password=False)
    r = run(url, "did", "history", "18001234567")
    assert r.exit_code == 0, r.output
    lines = [line.strip() for line in r.output.splitlines()]
    # the first value the log knows is the one its first change set
    assert "did_route: ? -> CALLMENU" in lines and "menu_id: ? -> MAIN_MENU" in lines
    assert "did_route: CALLMENU -> EXTEN" in lines
    assert any(line.startswith("copied onto: 18002223333 ADDED, did_id:") for line in lines)
    copy = run(url, "did", "history", "18002223333").output
    assert "copied from 18001234567: 18002223333 ADDED" in copy
    added = run(url, "did", "history", "18005550000").output
    assert "did_description: Night line -> Day line" in added


def test_check_db(sqlite_url, tmp_path):
    run(sqlite_url, "init-db")
    r = run(sqlite_url, "check-db")
    assert r.exit_code == 0 and "ok: vicidid can serve" in r.output
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    r = run(empty, "check-db")
    assert r.exit_code != 0
    assert "missing: vicidial_inbound_dids" in r.output


def test_check_db_says_what_each_missing_own_table_turns_off(sqlite_url):
    run(sqlite_url, "init-db")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE vicidid_idempotency"))
        conn.execute(sa.text("DROP TABLE vicidid_login_throttle"))
    engine.dispose()
    r = run(sqlite_url, "check-db")
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.output.splitlines() if line.startswith("warning: ")]
    assert sorted(warnings) == [
        "warning: vicidid_idempotency is missing: Idempotency-Key is off until "
        "`vicidid init-db --add-missing` adds it",
        "warning: vicidid_login_throttle is missing: the login throttle counts in each worker "
        "process on its own until `vicidid init-db --add-missing` adds it",
    ]
    assert run(sqlite_url, "init-db").exit_code == 0  # a database of vicidid's: made whole
    assert "warning" not in run(sqlite_url, "check-db").output


def test_every_own_table_has_its_own_words_in_check_db():
    from vicidid.store import schema

    own = {tbl.name for tbl in schema._own_tables()} - {schema.MARKER.name}
    assert set(schema.WITHOUT) == own
    assert len(set(schema.WITHOUT.values())) == len(own)


def test_reset_only_sqlite_and_only_ours(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    run(sqlite_url, "user", "add", "extra", "--password", "x")
    r = run(sqlite_url, "init-db", "--reset", "--demo")
    assert r.exit_code == 0, r.output
    assert "user extra" not in run(sqlite_url, "did", "list").output
    r = run("mysql+pymysql://nobody@127.0.0.1:1/x", "init-db", "--reset")
    assert r.exit_code != 0 and "SQLite files only" in r.output


def test_serve_refuses_a_database_without_tables(tmp_path):
    r = run(f"sqlite:///{tmp_path / 'none.db'}", "serve", "--port", "1")
    assert r.exit_code != 0
    assert "vicidial_inbound_dids" in r.output


# Passwords off the command line --------------------------------------------------------


def logs_in(url: str, user: str, password: str) -> bool:
    from vicidid.core.call import POLICIES
    from vicidid.core.outcomes import Kind
    from vicidid.core.pipeline import Incoming, Pipeline
    from vicidid.store.db import make_engine

    engine = make_engine(url)
    query = [("function", "did_info"), ("user", user), ("pass", password), ("source", "test")]
    reply = Pipeline(engine, POLICIES["simple"]).handle(
        Incoming([*query, ("did_pattern", "18001234567")])
    )
    engine.dispose()
    return reply.outcomes[-1].kind is Kind.DID_INFO


def test_password_asked_for_hidden_and_confirmed(sqlite_url, monkeypatch):
    monkeypatch.delenv("VICIDID_PASSWORD", raising=False)
    run(sqlite_url, "init-db", "--demo")
    added = CliRunner().invoke(
        main, ["--db", sqlite_url, "user", "add", "asked", "--password"], input="s3cret\ns3cret\n"
    )
    assert added.exit_code == 0, added.output
    assert "s3cret" not in added.output  # hidden
    assert "Repeat for confirmation" in added.output
    assert logs_in(sqlite_url, "asked", "s3cret")
    # without --password at all, user add asks too; a mismatch is asked again
    second = CliRunner().invoke(
        main, ["--db", sqlite_url, "user", "add", "asked2"], input="a1\nb2\nok9\nok9\n"
    )
    assert second.exit_code == 0, second.output
    assert "do not match" in second.output
    assert logs_in(sqlite_url, "asked2", "ok9") and not logs_in(sqlite_url, "asked2", "a1")
    changed = CliRunner().invoke(
        main, ["--db", sqlite_url, "user", "set", "asked", "--password"], input="n3w\nn3w\n"
    )
    assert changed.exit_code == 0, changed.output
    assert logs_in(sqlite_url, "asked", "n3w") and not logs_in(sqlite_url, "asked", "s3cret")


def test_password_from_the_environment(sqlite_url, monkeypatch):
    run(sqlite_url, "init-db", "--demo")
    monkeypatch.setenv("VICIDID_PASSWORD", "fr0m-env")
    assert run(sqlite_url, "user", "add", "envy").exit_code == 0
    assert logs_in(sqlite_url, "envy", "fr0m-env")
    # user set changes the password only when --password is given
    assert run(sqlite_url, "user", "set", "envy", "--level", "8").exit_code == 0
    monkeypatch.setenv("VICIDID_PASSWORD", "other-1")
    assert logs_in(sqlite_url, "envy", "fr0m-env")
    assert run(sqlite_url, "user", "set", "envy", "--password").exit_code == 0
    assert logs_in(sqlite_url, "envy", "other-1")
    # a value given with the flag still wins, for scripts
    assert run(sqlite_url, "user", "set", "envy", "--password", "given-2").exit_code == 0
    assert logs_in(sqlite_url, "envy", "given-2")


def test_help_says_the_environment_is_safer(sqlite_url):
    for command in ("add", "set"):
        r = run(sqlite_url, "user", command, "--help")
        assert "VICIDID_PASSWORD" in r.output and "safer" in r.output


def test_user_unlock_clears_the_lock_and_nothing_else(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE vicidial_users SET failed_login_count=10, "
                "last_login_date=CURRENT_TIMESTAMP, active='N' WHERE user='6666'"
            )
        )
    r = run(sqlite_url, "user", "unlock", "6666")
    assert r.exit_code == 0, r.output
    assert r.output == "user 6666 unlocked\n"
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM vicidial_users WHERE user='6666'")).mappings()
        row = row.one()
    assert (row["failed_login_count"], row["active"]) == (0, "N")
    r = run(sqlite_url, "user", "unlock", "ghost")
    assert r.exit_code == 1 and "no user named ghost" in r.output


def test_serve_refuses_a_bad_login_throttle(sqlite_url):
    run(sqlite_url, "init-db", "--demo")
    r = run(sqlite_url, "serve", "--login-throttle", "lots")
    assert r.exit_code == 1 and "must look like 30/60" in r.output


def test_no_copy_item_can_forge_a_history_entry(live):
    """A copy item holding a line break, ESC or BEL is shown escaped, and is never read as
    a DID of its own: 18005550100 was not added, and its history says so."""
    base = "function=copy_did&user=admin&pass=1234&source=test&did_pattern=18001234567"
    answer = live.get(f"{base}&new_dids=x%0A18005550100%20ADDED,18005550101%1B%5B2J%07")
    assert "0 Copied" in answer.text and "2 Invalid" in answer.text
    live.get(f"{base}&new_dids=18005550100%20ADDED")  # no line break: not an entry either
    url = live.engine.url.render_as_string(hide_password=False)
    forged = run(url, "did", "history", "18005550100")
    assert forged.exit_code == 0
    assert forged.output == "no recorded changes for 18005550100\n"
    source = run(url, "did", "history", "18001234567").output
    assert "\x1b" not in source and "\x07" not in source
    lines = [line.strip() for line in source.splitlines()]
    assert "copied onto: x\\n18005550100 ADDED INVALID" in lines
    assert "copied onto: 18005550101\\x1b[2J\\x07 INVALID" in lines
    assert "copied onto: 18005550100 ADDED INVALID" in lines
    assert not [line for line in lines if line.startswith("18005550100")]


def test_what_the_database_holds_is_shown_escaped(live):
    with live.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE vicidial_inbound_dids SET did_description = :d "
                "WHERE did_pattern = '18001234567'"
            ),
            {"d": "Support\x1b]0;owned\x07\nLine"},
        )
    url = live.engine.url.render_as_string(hide_password=False)
    for args in (("did", "list"), ("did", "show", "18001234567")):
        out = run(url, *args).output
        assert "\x1b" not in out and "\x07" not in out
        assert "Support\\x1b]0;owned\\x07\\nLine" in out

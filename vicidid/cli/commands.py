"""The `vicidid` command: a thin skin over the library (commands: README.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url

from vicidid import API_PATH
from vicidid.auth.throttle import parse_limit
from vicidid.cli import admin, demo
from vicidid.cli.did_import import register
from vicidid.core import history
from vicidid.errors import VicididError
from vicidid.store import admin_queries, queries, reflect
from vicidid.store.db import DEFAULT_URL, make_engine, safe_url
from vicidid.store.schema import check_db, created_by_vicidid, init_db
from vicidid.web.fallback import shown_url

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = make_engine(self.db_url)
            except (VicididError, ValueError, sa_exc.ArgumentError) as error:
                raise click.ClickException(str(error)) from error
        return self._engine


def fail_on_db_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Library and database errors become one clear line and exit code 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except VicididError as error:
            raise click.ClickException(str(error)) from error
        except sa_exc.OperationalError as error:
            raise click.ClickException(f"cannot use the database: {error.orig}") from error
        except sa_exc.SQLAlchemyError as error:
            raise click.ClickException(f"database error: {type(error).__name__}") from error

    return wrapper


@click.group()
@click.option(
    "--db",
    "db_url",
    envvar="VICIDID_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="Database URL (sqlite:///FILE or mysql://USER:PASS@HOST/DB).",
)
@click.version_option(package_name="vicidid")
@click.pass_context
def main(ctx: click.Context, db_url: str) -> None:
    """vicidid: VICIdial's Non-Agent API for inbound DIDs."""
    ctx.obj = Context(db_url)


@main.command("init-db")
@click.option("--demo", "with_demo", is_flag=True, help="Add the tutorials' demo data.")
@click.option("--reset", is_flag=True, help="Start over (SQLite files only).")
@click.option(
    "--add-missing", is_flag=True, help="On a VICIdial database, add only vicidid's own tables."
)
@click.pass_obj
@fail_on_db_errors
def init_db_cmd(obj: Context, with_demo: bool, reset: bool, add_missing: bool) -> None:
    """Create the database (and, with --demo, the tutorials' data)."""
    if reset:
        _reset_sqlite(obj)
    click.echo(init_db(obj.engine, add_missing=add_missing))
    if with_demo:
        _load_demo(obj)


def _reset_sqlite(obj: Context) -> None:
    url = make_url(obj.db_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException("--reset works on SQLite files only")
    if (
        obj.engine is not None
        and Path(url.database).exists()
        and not created_by_vicidid(obj.engine)
    ):
        raise click.ClickException(f"{url.database} was not created by vicidid: not resetting it")
    obj.engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(url.database + suffix).unlink(missing_ok=True)
    obj._engine = None


def _load_demo(obj: Context) -> None:
    if not created_by_vicidid(obj.engine):
        raise click.ClickException("demo data goes only into a database vicidid created")
    added = demo.load(obj.engine)
    click.echo("demo data: " + (", ".join(added) if added else "already there"))


@main.command("check-db")
@click.pass_obj
@fail_on_db_errors
def check_db_cmd(obj: Context) -> None:
    """Say whether vicidid can serve this database as it is (it never alters it)."""
    report = check_db(obj.engine)
    for line in report.missing:
        click.echo(f"missing: {line}")
    for line in report.warnings:
        click.echo(f"warning: {line}")
    if not report.ok:
        raise click.ClickException(f"{safe_url(obj.db_url)} lacks what vicidid needs (above)")
    click.echo(f"ok: vicidid can serve {safe_url(obj.db_url)}")


@main.command()
@click.option("--demo", "with_demo", is_flag=True, help="Create and fill a demo database first.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--dialect",
    type=click.Choice(["simple", "vicidial"]),
    envvar="VICIDID_DIALECT",
    default="simple",
    show_default=True,
    help="Wording of text responses.",
)
@click.option("--trusted-proxy", multiple=True, help="Believe X-Forwarded-For from this IP.")
@click.option(
    "--login-throttle",
    envvar="VICIDID_LOGIN_THROTTLE",
    default="30/60",
    show_default=True,
    help="FAILURES/SECONDS: after this many failed logins from one address within the "
    "window, refuse it until the window ends.",
)
@click.option("--no-login-throttle", is_flag=True, help="No limit on failed logins per address.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False))
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Access log lines as key=value text or JSON.",
)
@click.option(
    "--metrics-token",
    envvar="VICIDID_METRICS_TOKEN",
    default="",
    help="Answer /metrics to any client that sends this bearer token (16+ characters).",
)
@click.option("--metrics-host", default="", help="Serve /metrics on a listener of its own.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Its port (default 9180).")
@click.option(
    "--fallback-url",
    envvar="VICIDID_FALLBACK_URL",
    default="",
    help="VICIdial's own non_agent_api.php: requests for other functions go there unchanged.",
)
@click.option(
    "--fallback-timeout",
    envvar="VICIDID_FALLBACK_TIMEOUT",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to wait for the fallback before answering that it did not answer.",
)
@click.pass_obj
@fail_on_db_errors
def serve(
    obj: Context,
    with_demo: bool,
    host: str,
    port: int,
    workers: int,
    dialect: str,
    trusted_proxy: tuple[str, ...],
    login_throttle: str,
    no_login_throttle: bool,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    log_format: str,
    metrics_token: str,
    metrics_host: str,
    metrics_port: int | None,
    fallback_url: str,
    fallback_timeout: float,
) -> None:
    """Serve the API at /vicidial/non_agent_api.php."""
    from vicidid.web import server
    from vicidid.web.settings import Settings

    if with_demo:
        names = reflect.table_names(obj.engine)
        if names and not created_by_vicidid(obj.engine):
            raise click.ClickException(
                "--demo fills only an empty database or one vicidid created; this one holds "
                "other tables. Leave out --demo to serve it as it is."
            )
        click.echo(init_db(obj.engine))
        _load_demo(obj)
    report = check_db(obj.engine)
    if not report.ok:
        raise click.ClickException(
            "the database lacks " + ", ".join(report.missing) + ". For a new database run "
            "`vicidid init-db`; an existing VICIdial database is never altered (see README)."
        )
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    try:
        throttle = None
        if not no_login_throttle and login_throttle.strip() != "off":
            throttle = parse_limit(login_throttle)
        settings = Settings(
            db_url=obj.db_url,
            dialect=dialect,
            trusted_proxies=trusted_proxy,
            metrics_token=metrics_token,
            metrics_host=metrics_host or ("127.0.0.1" if metrics_port else ""),
            metrics_port=metrics_port or 9180,
            fallback_url=fallback_url,
            fallback_timeout=fallback_timeout,
            login_throttle=throttle,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    scheme = "https" if ssl_certfile else "http"
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown_host}:{port}"

    def banner() -> None:  # once the port is bound: "serving" is then true
        click.echo(
            f"vicidid serving {safe_url(obj.db_url)} at {base}{API_PATH} "
            f"({dialect} dialect, {workers} worker{'s' if workers > 1 else ''})"
        )
        if fallback_url:
            click.echo(f"other functions go to {shown_url(fallback_url)}")
        if with_demo:
            click.echo("Try the tutorials:")
            for url in demo.tutorial_urls(base):
                click.echo(f'  curl "{url}"')

    obj.engine.dispose()
    try:
        server.run(
            settings, host, port, workers, ssl_certfile, ssl_keyfile, log_format, on_bound=banner
        )
    except server.PortTaken as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)


# users and groups ----------------------------------------------------------------------


def user_options(fn: F) -> F:
    for decorator in reversed(
        [
            click.option("--level", type=int, help="User level, 1-9 (default 9)."),
            click.option("--group", help="User group (default ADMIN)."),
            click.option("--functions", help='"update_did copy_did", ALL_FUNCTIONS or ALL.'),
            click.option("--api/--no-api", default=None, help="API access (default on)."),
            click.option(
                "--modify-dids/--no-modify-dids", default=None, help="May change DIDs (default on)."
            ),
            click.option(
                "--delete-dids/--no-delete-dids",
                default=None,
                help="May delete DIDs (default off).",
            ),
        ]
    ):
        fn = decorator(fn)
    return fn


ASK = "\0ask"  # --password given without a value


def password_option(help_: str) -> Callable[[F], F]:
    """--password VALUE, or --password alone: VICIDID_PASSWORD, else asked (hidden, twice)."""
    return click.option(
        "--password",
        is_flag=False,
        flag_value=ASK,
        help=help_ + " Give --password alone to take VICIDID_PASSWORD from the environment "
        "or, without it, to be asked (hidden, twice). A value on the command line stays in "
        "shell history and shows in `ps`: the environment or the prompt is safer.",
    )


def resolve_password(given: str | None) -> str:
    """The password meant by --password: its value, VICIDID_PASSWORD, or the prompt."""
    if given is not None and given != ASK:
        return given
    from_env = os.environ.get("VICIDID_PASSWORD")
    if from_env:
        return from_env
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@main.group()
def user() -> None:
    """API users."""


@user.command("add")
@click.argument("name")
@password_option("The user's password; without --password, as with it alone.")
@user_options
@click.pass_obj
@fail_on_db_errors
def user_add(obj: Context, /, name: str, password: str | None, **flags: object) -> None:
    """Add an API user."""
    password = resolve_password(password)
    with obj.engine.begin() as conn:
        admin.add_user(conn, name, password, _flags(flags))
    click.echo(f"user {name} added")


@user.command("set")
@click.argument("name")
@password_option("A new password.")
@click.option("--active/--inactive", default=None, help="Enable or disable the user.")
@user_options
@click.pass_obj
@fail_on_db_errors
def user_set(
    obj: Context, /, name: str, password: str | None, active: bool | None, **flags: object
) -> None:
    """Change an existing API user."""
    password = None if password is None else resolve_password(password)
    with obj.engine.begin() as conn:
        admin.set_user(conn, name, password, _flags({**flags, "active": active}))
    click.echo(f"user {name} changed")


@user.command("unlock")
@click.argument("name")
@click.pass_obj
@fail_on_db_errors
def user_unlock(obj: Context, name: str) -> None:
    """Clear a user's failed logins, so that a locked account may log in at once."""
    with obj.engine.begin() as conn:
        admin.unlock_user(conn, name)
    click.echo(f"user {name} unlocked")


def _flags(options: dict[str, Any]) -> admin.UserFlags:
    return admin.UserFlags(
        level=options.get("level"),
        group=options.get("group"),
        functions=options.get("functions"),
        api=options.get("api"),
        modify_dids=options.get("modify_dids"),
        delete_dids=options.get("delete_dids"),
        active=options.get("active"),
    )


@main.group()
def group() -> None:
    """User groups."""


@group.command("add")
@click.argument("name")
@click.option(
    "--viewable",
    default="---ALL---",
    show_default=True,
    help='User groups whose DIDs members see: "SALES OTHER" or ---ALL---.',
)
@click.pass_obj
@fail_on_db_errors
def group_add(obj: Context, name: str, viewable: str) -> None:
    """Add a user group."""
    with obj.engine.begin() as conn:
        admin.add_group(conn, name, viewable)
    click.echo(f"group {name} added")


def _reference_group(kind: str, noun: str) -> click.Group:
    @main.group(kind, help=f"{noun.capitalize()}s that DIDs may point at.")
    def grp() -> None:
        pass

    @grp.command("add", help=f"Add a {noun}.")
    @click.argument("value")
    @click.pass_obj
    @fail_on_db_errors
    def add(obj: Context, value: str) -> None:
        with obj.engine.begin() as conn:
            admin.add_reference(conn, kind, value)
        click.echo(f"{noun} {value} added")

    return grp


_reference_group("ingroup", "in-group")
_reference_group("menu", "call menu")
_reference_group("server", "server")


# DIDs ----------------------------------------------------------------------------------


@main.group()
def did() -> None:
    """Look at DIDs and their history."""


@did.command("list")
@click.pass_obj
@fail_on_db_errors
def did_list(obj: Context) -> None:
    """Every DID, one per line."""
    with obj.engine.connect() as conn:
        rows = admin_queries.did_summaries(conn)
    for pattern, active, route, description in rows:
        click.echo(f"{pattern:<20} {active or '-':<2} {route or '-':<14} {description or ''}")
    click.echo(f"{len(rows)} DID{'s' if len(rows) != 1 else ''}")


@did.command("show")
@click.argument("pattern")
@click.pass_obj
@fail_on_db_errors
def did_show(obj: Context, pattern: str) -> None:
    """Every column of one DID."""
    with obj.engine.connect() as conn:
        row = queries.did_by_pattern(conn, reflect.did_table(conn), pattern)
    if row is None:
        raise click.ClickException(f"no DID {pattern}")
    width = max(len(k) for k in row)
    for key, value in row.items():
        click.echo(f"{key:<{width}}  {'' if value is None else value}")


@did.command("history")
@click.argument("pattern")
@click.pass_obj
@fail_on_db_errors
def did_history(obj: Context, pattern: str) -> None:
    """What changed on a DID, before -> after, from vicidial_admin_log."""
    with obj.engine.connect() as conn:
        rows = queries.admin_history(conn, pattern)
    if not rows:
        click.echo(f"no recorded changes for {pattern}")
        return
    for event in history.events(rows, pattern):
        click.echo(f"{event.when}  {event.kind:<7} by {event.user} from {event.ip}")
        for line in event.lines:
            click.echo(f"    {line}")


register(did)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

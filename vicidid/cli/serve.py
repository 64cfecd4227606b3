"""`vicidid serve`: check the database, then serve the API (vicidid.web.server)."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import click

from vicidid.about import API_PATH
from vicidid.auth.throttle import Limit
from vicidid.cli import demo
from vicidid.cli.context import Context, fail_on_db_errors
from vicidid.cli.db_commands import load_demo
from vicidid.errors import PortTaken
from vicidid.store import reflect
from vicidid.store import tables as t
from vicidid.store.db import row_locks, safe_url
from vicidid.store.schema import check_db, created_by_vicidid, init_db
from vicidid.web import settings
from vicidid.web.fallback import shown_url


@click.command()
@click.option("--demo", "with_demo", is_flag=True, help="Create and fill a demo database first.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-login-throttle", is_flag=True, help="No limit on failed logins per address.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False))
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False))
@settings.options  # every setting's option (web/settings.py), --dialect to --pool-size
@click.pass_context
@fail_on_db_errors
def serve(
    ctx: click.Context,
    /,
    with_demo: bool,
    host: str,
    port: int,
    workers: int,
    no_login_throttle: bool,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    **_settings: Any,
) -> None:
    """Serve the API at /vicidial/non_agent_api.php."""
    from vicidid.web import server

    obj: Context = ctx.obj
    if with_demo:
        names = reflect.table_names(obj.engine)
        if names and not created_by_vicidid(obj.engine):
            raise click.ClickException(
                "--demo fills only an empty database or one vicidid created; this one holds "
                "other tables. Leave out --demo to serve it as it is."
            )
        click.echo(init_db(obj.engine))
        load_demo(obj)
    report = check_db(obj.engine)
    if not report.ok:
        raise click.ClickException(
            "the database lacks " + ", ".join(report.missing) + ". For a new database run "
            "`vicidid init-db`; an existing VICIdial database is never altered (see README)."
        )
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    try:
        given: dict[str, Any] = {"login_throttle": None} if no_login_throttle else {}
        if obj.astguiclient is not None:  # the database from VICIdial's config, its words
            given["astguiclient"] = str(obj.astguiclient.path)
        else:
            given["db_url"] = obj.db_url
        configured = settings.from_options(ctx, **given)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if not configured.request_threads:  # chosen for the database, once, for every worker
        with obj.engine.connect() as conn:
            chosen = configured.threads(row_locks(conn))
        configured = dataclasses.replace(configured, request_threads=chosen)
    files = server.raise_file_limit(configured.max_connections)
    if files:
        click.echo(f"warning: {files}", err=True)
    counting = _where_throttle_counts(obj, configured.login_throttle)
    scheme = "https" if ssl_certfile else "http"
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown_host}:{port}"

    def banner() -> None:  # once the port is bound: "serving" is then true
        click.echo(
            f"vicidid serving {safe_url(obj.db_url)} at {base}{API_PATH} "
            f"({configured.dialect} dialect, {workers} worker{'s' if workers > 1 else ''})"
        )
        click.echo(counting)
        if obj.astguiclient is not None:
            click.echo(f"database from {obj.astguiclient.path}")
        elif obj.hint:
            click.echo(obj.hint)
        if configured.fallback_url:
            click.echo(f"other functions go to {shown_url(configured.fallback_url)}")
        if configured.read_url:
            read_url = configured.read_url
            shown = read_url if read_url == "slave_db_server" else safe_url(read_url)
            click.echo(
                f"did_info and did_list read from {shown} while it is within "
                f"{configured.read_max_lag} s"
            )
        if with_demo:
            click.echo("Try the tutorials:")
            for url in demo.tutorial_urls(base):
                click.echo(f'  curl "{url}"')

    obj.engine.dispose()
    try:
        server.run(configured, host, port, workers, ssl_certfile, ssl_keyfile, on_bound=banner)
    except PortTaken as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)


def _where_throttle_counts(obj: Context, limit: Limit | None) -> str:
    """Where the login throttle counts, in one line for the start-up output."""
    if limit is None:
        return "login throttle: off"
    table = t.login_throttle.name
    if table in reflect.table_names(obj.engine):
        return (
            f"login throttle {limit} per address, counted in {table}: shared by every "
            "worker and every server on this database"
        )
    return (
        f"login throttle {limit} per address, counted in each worker process on its own: "
        f"{table} is missing (`vicidid init-db --add-missing` adds it)"
    )

"""`vicidid serve`: check the database, then serve the API (vicidid.web.server)."""

from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from vicidid import API_PATH
from vicidid.auth.throttle import Limit, parse_limit
from vicidid.cli import demo
from vicidid.cli.context import Context, fail_on_db_errors
from vicidid.cli.db_commands import load_demo
from vicidid.store import reflect
from vicidid.store import tables as t
from vicidid.store.db import safe_url
from vicidid.store.schema import check_db, created_by_vicidid, init_db
from vicidid.web.fallback import shown_url


@click.command()
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
@click.option(
    "--max-header-bytes",
    envvar="VICIDID_MAX_HEADER_BYTES",
    default=16384,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bytes of a request's line and headers; past them 431 and the connection closed.",
)
@click.option(
    "--max-header-lines",
    envvar="VICIDID_MAX_HEADER_LINES",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Header lines of a request; past them 431 and the connection closed.",
)
@click.option(
    "--header-timeout",
    envvar="VICIDID_HEADER_TIMEOUT",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to send a request's line and headers; then 408 and the connection closed.",
)
@click.option(
    "--keep-alive-timeout",
    envvar="VICIDID_KEEP_ALIVE_TIMEOUT",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds a connection may wait idle between requests before it is closed.",
)
@click.option(
    "--max-connections",
    envvar="VICIDID_MAX_CONNECTIONS",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Connections open at once in each worker; past them 503 at once.",
)
@click.option(
    "--max-waiting",
    envvar="VICIDID_MAX_WAITING",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="API requests waiting for a request thread in each worker; past them 503.",
)
@click.option(
    "--access-log-queue",
    envvar="VICIDID_ACCESS_LOG_QUEUE",
    default=10000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Access-log lines waiting to be written in each worker; past them dropped, counted.",
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
    max_header_bytes: int,
    max_header_lines: int,
    header_timeout: float,
    keep_alive_timeout: int,
    max_connections: int,
    max_waiting: int,
    access_log_queue: int,
) -> None:
    """Serve the API at /vicidial/non_agent_api.php."""
    from vicidid.web import server
    from vicidid.web.settings import Settings

    if obj.astguiclient is not None and _default("dialect"):
        dialect = "vicidial"  # VICIdial's own config: answer in VICIdial's words
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
            max_header_bytes=max_header_bytes,
            max_header_lines=max_header_lines,
            header_timeout=header_timeout,
            keep_alive_timeout=keep_alive_timeout,
            max_connections=max_connections,
            max_waiting=max_waiting,
            access_log_queue=access_log_queue,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    files = server.raise_file_limit(max_connections)
    if files:
        click.echo(f"warning: {files}", err=True)
    counting = _where_throttle_counts(obj, throttle)
    scheme = "https" if ssl_certfile else "http"
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown_host}:{port}"

    def banner() -> None:  # once the port is bound: "serving" is then true
        click.echo(
            f"vicidid serving {safe_url(obj.db_url)} at {base}{API_PATH} "
            f"({dialect} dialect, {workers} worker{'s' if workers > 1 else ''})"
        )
        click.echo(counting)
        if obj.astguiclient is not None:
            click.echo(f"database from {obj.astguiclient.path}")
        elif obj.hint:
            click.echo(obj.hint)
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


def _default(name: str) -> bool:
    """Whether the option was left to its default (neither given nor in the environment)."""
    source = click.get_current_context().get_parameter_source(name)
    return source is ParameterSource.DEFAULT


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

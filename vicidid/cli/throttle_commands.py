"""`vicidid throttle list` and `vicidid throttle clear ADDRESS`: the login throttle's
windows as the database holds them (store/statements/throttle.py), shared by every worker
and server."""

from __future__ import annotations

import time
from datetime import datetime

import click
from sqlalchemy.engine import Engine

from vicidid.auth.throttle import Limit, address_key, parse_limit
from vicidid.cli.context import Context, fail_on_db_errors
from vicidid.store import reflect
from vicidid.store import tables as t
from vicidid.store.statements import throttle as windows
from vicidid.web import settings


@click.group()
def throttle() -> None:
    """The login throttle: failed logins counted per client address."""


@throttle.command("list")
@settings.option(
    "login_throttle",
    help="FAILURES/SECONDS, as `serve` runs with: how long a window lasts, and when an "
    "address is refused.",
)
@click.pass_obj
@fail_on_db_errors
def throttle_list(obj: Context, login_throttle: str) -> None:
    """The windows still running: address, failures, start and end, whether refused now."""
    if login_throttle.strip() == "off":
        click.echo("the login throttle is off (--login-throttle off): serve counts nothing")
        return
    limit = _limit(login_throttle)
    _need_table(obj.engine)
    now = int(time.time())
    with obj.engine.connect() as conn:
        running = windows.windows(conn, now, limit)
    if running:
        width = max(len("ADDRESS"), *(len(w.address) for w in running))
        click.echo(
            f"{'ADDRESS':<{width}}  FAILURES  STARTED              ENDS                 REFUSED"
        )
    for window in running:
        refused = "yes" if limit.reached(window.failures, window.started, now) else "no"
        click.echo(
            f"{window.address:<{width}}  {window.failures:<8}  {_when(window.started)}  "
            f"{_when(window.started + limit.seconds)}  {refused}"
        )
    count = len(running)
    click.echo(
        f"{count} address{'es' if count != 1 else ''} with failed logins counted "
        f"(limit {limit}: refused after {limit.failures} in {limit.seconds} seconds)"
    )


@throttle.command("clear")
@click.argument("address")
@click.pass_obj
@fail_on_db_errors
def throttle_clear(obj: Context, address: str) -> None:
    """Forget an address's failed logins, so that it may log in again at once.

    An IPv6 address clears its /64, which the throttle counts as one."""
    key = address_key(address)
    shown = key if key == address.strip() else f"{key} (which {address.strip()} counts as)"
    _need_table(obj.engine)
    with obj.engine.begin() as conn:
        failures, _ = windows.window(conn, key)
        cleared = windows.clear(conn, key)
    if not cleared:
        raise click.ClickException(f"no failed logins counted for {shown}")
    counted = f"{failures} failed login{'s' if failures != 1 else ''}"
    click.echo(f"cleared {shown}: {counted} forgotten")


def _limit(text: str) -> Limit:
    try:
        return parse_limit(text)
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def _need_table(engine: Engine) -> None:
    if t.login_throttle.name not in reflect.table_names(engine):
        raise click.ClickException(
            f"{t.login_throttle.name} is missing: each serve process counts failed logins "
            "on its own, out of reach; `vicidid init-db --add-missing` adds the table"
        )


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")

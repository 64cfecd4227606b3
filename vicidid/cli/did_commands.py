"""`vicidid did`: look at DIDs and their history; `did import` and `did export` (did_import)."""

from __future__ import annotations

import click

from vicidid.cli.context import Context, fail_on_db_errors
from vicidid.cli.did_import import register
from vicidid.core import history
from vicidid.core.text import escaped
from vicidid.store import reflect
from vicidid.store.statements import admin_queries, queries


@click.group()
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
        pattern, active, route, description = (
            escaped(str(v)) if v else "" for v in (pattern, active, route, description)
        )
        click.echo(f"{pattern:<20} {active or '-':<2} {route or '-':<14} {description}")
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
        raise click.ClickException(f"no DID {escaped(pattern)}")
    width = max(len(k) for k in row)
    for key, value in row.items():
        click.echo(f"{key:<{width}}  {'' if value is None else escaped(str(value))}")


@did.command("history")
@click.argument("pattern")
@click.pass_obj
@fail_on_db_errors
def did_history(obj: Context, pattern: str) -> None:
    """What changed on a DID, before -> after, from vicidial_admin_log."""
    with obj.engine.connect() as conn:
        rows = queries.admin_history(conn, pattern)
    if not rows:
        click.echo(f"no recorded changes for {escaped(pattern)}")
        return
    # what the rows hold is shown, never obeyed: control characters escaped, one line each
    for event in history.events(rows, pattern):
        who = f"by {escaped(event.user)} from {escaped(str(event.ip))}"
        click.echo(f"{event.when}  {escaped(event.kind):<7} {who}")
        for line in event.lines:
            click.echo(f"    {escaped(line)}")


register(did)

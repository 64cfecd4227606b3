"""`vicidid did import` and `vicidid did export`: the CLI skin over vicidid.cli.bulk."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy.engine import Engine

from vicidid.cli import bulk
from vicidid.cli.context import Context
from vicidid.errors import BulkError
from vicidid.store import replica
from vicidid.store.db import safe_url
from vicidid.web import settings

SHOWN_INVALID = 5


def _numbers(csv_path: Path | None, number_range: str | None) -> list[str]:
    if (csv_path is None) == (number_range is None):
        raise click.UsageError("give a CSV file or --range FIRST-LAST (one of them)")
    try:
        return bulk.read_numbers(csv_path) if csv_path else bulk.expand_range(number_range or "")
    except BulkError as error:
        raise click.ClickException(str(error)) from error


def summary_table(summary: bulk.Summary, dry_run: bool) -> str:
    verb = "would be added" if dry_run else "added"
    lines = [
        f"  {verb:<16}{len(summary.added):>8}",
        f"  {'already existed':<16}{len(summary.existed):>8}",
        f"  {'invalid':<16}{len(summary.invalid):>8}",
    ]
    for item, reason in summary.invalid[:SHOWN_INVALID]:
        lines.append(f"    {item or '(empty)'}: {reason}")
    if len(summary.invalid) > SHOWN_INVALID:
        lines.append(f"    … and {len(summary.invalid) - SHOWN_INVALID} more")
    return "\n".join(lines)


@click.command("import")
@click.argument("csv_path", required=False, type=click.Path(path_type=Path))
@click.option("--like", required=True, help="The DID whose routing every new DID copies.")
@click.option("--range", "number_range", help="FIRST-LAST, e.g. 18002223300-18002223399.")
@click.option("--description", help="Description for the new DIDs (default: the source's).")
@click.option("--active", type=click.Choice(["Y", "N"]), help="Active flag for the new DIDs.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option(
    "--url",
    help="A server to import through, e.g. http://host:8080: vicidid or VICIdial itself.",
)
@click.option("--user", envvar="VICIDID_USER", required=True, help="API user (VICIDID_USER).")
@click.option(
    "--password",
    envvar="VICIDID_PASSWORD",
    prompt=True,
    hide_input=True,
    help="Password (VICIDID_PASSWORD, else asked).",
)
@click.pass_obj
def import_cmd(
    obj: Context,
    csv_path: Path | None,
    like: str,
    number_range: str | None,
    description: str | None,
    active: str | None,
    dry_run: bool,
    url: str | None,
    user: str,
    password: str,
) -> None:
    """Clone one DID's routing onto every number of a CSV file or a range."""
    numbers = _numbers(csv_path, number_range)
    if not numbers:
        raise click.ClickException("no numbers to import")
    try:
        if dry_run:
            summary = (
                bulk.dry_run_remote(url, like, numbers, user, password)
                if url
                else bulk.dry_run(obj.engine, like, numbers)
            )
        else:
            # the two take the same arguments after the first: a URL or an engine
            run: Callable[..., bulk.Summary] = bulk.run_remote if url else bulk.run_local
            target = url if url else obj.engine
            with click.progressbar(length=len(numbers), label="copying", file=sys.stderr) as bar:
                summary = run(
                    target,
                    like,
                    numbers,
                    user,
                    password,
                    description=description,
                    active=active,
                    progress=bar.update,
                )
    except BulkError as error:
        raise click.ClickException(str(error)) from error
    click.echo(summary_table(summary, dry_run))


@click.command("export")
@click.option("--out", type=click.File("w"), default="-", help="CSV file (default: stdout).")
@click.option("--prefix", default="", help="Only DIDs starting with this.")
@click.option("--url", help="A vicidid server to export from, through its did_list.")
@click.option("--user", envvar="VICIDID_USER", help="API user, with --url.")
@click.option("--password", envvar="VICIDID_PASSWORD", help="Password, with --url.")
@settings.option(
    "read_url",
    help="Read from this replica of --db while it is at most 1 s behind (slave_db_server: "
    "VICIdial's setting).",
)
@click.pass_obj
def export_cmd(
    obj: Context,
    out: TextIO,
    prefix: str,
    url: str | None,
    user: str | None,
    password: str | None,
    read_url: str,
) -> None:
    """Write every DID, every column, as CSV."""
    try:
        if url:
            if not user or not password:
                raise click.UsageError("--url needs --user and --password")
            rows = bulk.export_remote(url, user, password, prefix)
            columns = list(rows[0]) if rows else ["did_pattern"]
        else:
            columns, rows = bulk.export_local(_read_engine(obj, read_url), prefix)
    except BulkError as error:
        raise click.ClickException(str(error)) from error
    bulk.write_csv(out, columns, rows)


def _read_engine(obj: Context, read_url: str) -> Engine:
    """The replica's engine while it is usable, else the primary's (said on stderr)."""
    found = replica.of(read_url, obj.engine, obj.db_url, max_lag=1.0, pool_size=1)
    if found is None:
        return obj.engine
    if found.usable():
        shown = safe_url(found.engine.url.render_as_string(hide_password=False))
        click.echo(f"reading the replica {shown}", err=True)
        return found.engine
    found.dispose()
    click.echo("the replica is down or behind: reading the primary", err=True)
    return obj.engine


def register(did_group: click.Group) -> None:
    did_group.add_command(import_cmd)
    did_group.add_command(export_cmd)

"""`vicidid init-db` and `vicidid check-db`: create a database, or say whether one can be served."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from vicidid.cli import demo
from vicidid.cli.context import Context, fail_on_db_errors
from vicidid.store.db import safe_url
from vicidid.store.schema import check_db, created_by_vicidid, init_db


@click.command("init-db")
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
        load_demo(obj)


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


def load_demo(obj: Context) -> None:
    if not created_by_vicidid(obj.engine):
        raise click.ClickException("demo data goes only into a database vicidid created")
    added = demo.load(obj.engine)
    click.echo("demo data: " + (", ".join(added) if added else "already there"))


@click.command("check-db")
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

"""What every `vicidid` command shares: the database it works on, and one clear line for a
library or database error."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from vicidid.errors import ConfigError, VicididError
from vicidid.store import astguiclient
from vicidid.store.astguiclient import AstConfig
from vicidid.store.db import make_engine
from vicidid.web import settings

P = ParamSpec("P")
T = TypeVar("T")


class Context:
    def __init__(
        self, db_url: str, astguiclient: AstConfig | None = None, hint: str | None = None
    ) -> None:
        self.db_url = db_url
        self.astguiclient = astguiclient  # VICIdial's config, when the URL came from it
        self.hint = hint  # a line for the start-up output (VICIdial's config found, unused)
        self.db_given = astguiclient is not None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                # the commands send no multi-statement message of their own: a did import
                # through the pipeline sends its statements one at a time (store/wire.py)
                self._engine = make_engine(self.db_url, multi_statements=False)
            except (VicididError, ValueError, sa_exc.ArgumentError) as error:
                raise click.ClickException(str(error)) from error
        return self._engine


_AST_VARIABLE = settings.SETTINGS["astguiclient"].env


def context_for(db_url: str, db_given: bool, astguiclient_path: str | None) -> Context:
    """The database from --db, or from VICIdial's config with --astguiclient (not both)."""
    if astguiclient_path is None:
        hint = (
            None if db_given else astguiclient.found_hint(astguiclient.DEFAULT_PATH, _AST_VARIABLE)
        )
        context = Context(db_url, hint=hint)
        context.db_given = db_given
        return context
    if db_given:
        raise click.UsageError("give --db or --astguiclient, not both")
    try:
        config = astguiclient.read(astguiclient_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    for note in config.notes:
        click.echo(f"note: {note}", err=True)
    return Context(config.url(), astguiclient=config)


def fail_on_db_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Library and database errors become one clear line and exit code 1."""

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

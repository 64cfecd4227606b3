"""What every `vicidid` command shares: the database it works on, and one clear line for a
library or database error."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from vicidid.errors import VicididError
from vicidid.store.db import make_engine

P = ParamSpec("P")
T = TypeVar("T")


class Context:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
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

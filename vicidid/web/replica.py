"""The replica the server reads from, made from its settings (`--read-url`)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from vicidid.store import replica
from vicidid.web.settings import Settings


def of(read_url: str, settings: Settings, primary: Engine) -> replica.Replica | None:
    """The replica of --read-url; `slave_db_server` takes VICIdial's own setting from the
    primary (no replica when it is empty); None without --read-url."""
    if read_url == replica.FROM_SETTINGS:
        read_url = replica.url_from_settings(primary, settings.db_url)
    if not read_url:
        return None
    return replica.Replica(read_url, settings.read_max_lag, settings.pool_size)

"""version: VICIdial's version line, answered without a login."""

from __future__ import annotations

import time
from datetime import datetime

from vicidid.about import __version__
from vicidid.core.call import Call
from vicidid.core.outcomes import Kind, Outcome
from vicidid.store.statements import queries

VICIDIAL_VERSION = "2.14-194"


def offset_text(hours: float) -> str:
    return f"{hours:.2f}"


def version_line(now: datetime, local_gmt: str | None) -> str:
    """TZ is the server's standard offset (servers.local_gmt when set), TZNOW adds DST."""
    dst = 1 if time.localtime(now.timestamp()).tm_isdst > 0 else 0
    try:
        tz = float(local_gmt) if local_gmt not in (None, "") else -time.timezone / 3600
    except ValueError:
        tz = -time.timezone / 3600
    return (
        f"VERSION: {VICIDIAL_VERSION}|BUILD: vicidid-{__version__}|"
        f"DATE: {now:%Y-%m-%d %H:%M:%S}|EPOCH: {int(now.timestamp())}|DST: {dst}|"
        f"TZ: {offset_text(tz)}|TZNOW: {offset_text(tz + dst)}|"
    )


def run(call: Call) -> list[Outcome]:
    """The line, with the server's offset from the database; the call has no caller."""
    line = version_line(call.now, queries.local_gmt(call.conn))
    return call.answer(Kind.VERSION, extra={"line": line})

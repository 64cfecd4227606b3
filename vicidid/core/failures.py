"""The answer to a request that could not finish, decided from what failed and what the
request had sent, and its log line.

A request whose writes may have stayed behind says so (`PARTLY_APPLIED`): on MyISAM once
it has changed anything, and on InnoDB or SQLite when the connection was lost while its
COMMIT was under way — the change may have landed. A COMMIT the database refused (a
deadlock, or a Galera node's certification conflict, which it reports as one) committed
nothing: that request is answered as any other the database turned away.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc

from vicidid.core.outcomes import Kind, Outcome
from vicidid.store import faults

log = logging.getLogger("vicidid")


def answer(
    error: Exception,
    attempt: faults.Attempt,
    transactional: bool,
    function: str,
    user: str,
    subject: str,
) -> Outcome:
    """What to answer, `subject` being the DID the request is about; the log line left."""
    where = f"function={function or '-'} user={user!r} did={subject[:60]!r}"
    database = isinstance(error, sa_exc.SQLAlchemyError)
    what = faults.describe(error) if database else type(error).__name__
    unknown_commit = attempt.committing and not faults.rolled_back(error)
    if attempt.changed and (unknown_commit or not transactional):
        # Some of its writes may be there for good: say so, never pretend otherwise.
        log.error(
            "request stopped, change may be partly applied (%s): %s",
            where,
            what,
            exc_info=not database,  # a fault of vicidid's own: keep its traceback
        )
        return Outcome(Kind.PARTLY_APPLIED, function=function, user=user, did=subject)
    if not database:
        log.exception("request failed, rolled back (%s)", where)
        return Outcome(Kind.INTERNAL_ERROR, function=function, user=user)
    fault = faults.classify(error)
    if fault is faults.Fault.UNREACHABLE:
        log.error("database unavailable (%s): %s", where, what)
        return Outcome(Kind.DATABASE_DOWN, function=function, user=user)
    if fault is faults.Fault.PRIVILEGE:
        log.error("database user lacks a privilege (%s): %s", where, what)
        return Outcome(Kind.DATABASE_PRIVILEGE, function=function, user=user)
    log.error("database error, rolled back (%s): %s", where, what)
    return Outcome(Kind.INTERNAL_ERROR, function=function, user=user)

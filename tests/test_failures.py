"""core/failures.py: the answer to a request that could not finish, decided from what
failed and what the request had sent — the drivers' own exception classes, no database."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest
from sqlalchemy import exc as sa_exc

from vicidid.core import failures
from vicidid.core.outcomes import Kind
from vicidid.store import faults

DEADLOCK = pymysql.err.OperationalError(
    1213, "Deadlock found when trying to get lock; try restarting transaction"
)
GALERA_CONFLICT = pymysql.err.OperationalError(
    1213, "WSREP detected deadlock/conflict and aborted the transaction. Try restarting it"
)
LOST = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
DENIED = pymysql.err.OperationalError(1142, "INSERT command denied to user 'vicidid'")


def database(orig: Exception, lost: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.OperationalError("COMMIT", {}, orig, connection_invalidated=lost)


def attempt(changed: bool = True, committing: bool = False) -> faults.Attempt:
    return faults.Attempt(wrote=changed, changed=changed, committing=committing)


def kind(error: Exception, tried: faults.Attempt, transactional: bool = True) -> Kind:
    return failures.answer(error, tried, transactional, "update_did", "6666", "18001234567").kind


@pytest.mark.parametrize("orig", [DEADLOCK, GALERA_CONFLICT], ids=["deadlock", "galera"])
def test_a_commit_the_database_refused_committed_nothing(orig):
    # InnoDB (and Galera) rolled the whole transaction back: busy, try again; not "partly"
    assert kind(database(orig), attempt(committing=True)) is Kind.DATABASE_DOWN


def test_a_connection_lost_during_commit_may_have_landed():
    assert kind(database(LOST, lost=True), attempt(committing=True)) is Kind.PARTLY_APPLIED


def test_on_myisam_a_change_sent_stays_whatever_failed():
    assert kind(database(DEADLOCK), attempt(), transactional=False) is Kind.PARTLY_APPLIED
    assert kind(database(LOST, lost=True), attempt(), transactional=False) is Kind.PARTLY_APPLIED


def test_nothing_changed_is_answered_by_the_kind_of_failure():
    unchanged = attempt(changed=False, committing=True)
    assert kind(database(LOST, lost=True), unchanged) is Kind.DATABASE_DOWN
    assert kind(database(DENIED), unchanged) is Kind.DATABASE_PRIVILEGE
    assert kind(ValueError("vicidid's own fault"), unchanged) is Kind.INTERNAL_ERROR


def test_a_fault_of_vicidids_own_during_commit_may_have_landed(caplog):
    try:  # answered where it is caught, as the pipeline does: its traceback is kept
        raise RuntimeError("during COMMIT")
    except RuntimeError as error:
        assert kind(error, attempt(committing=True)) is Kind.PARTLY_APPLIED
    assert "partly applied" in caplog.text and "Traceback" in caplog.text


def test_sqlite_busy_at_commit_committed_nothing():
    busy = database(sqlite3.OperationalError("database is locked"))
    assert faults.rolled_back(busy)
    assert kind(busy, attempt(committing=True)) is Kind.DATABASE_DOWN


def test_rolled_back_is_what_may_run_again_without_a_lost_connection():
    assert faults.rolled_back(database(DEADLOCK))
    assert not faults.rolled_back(database(LOST, lost=True))
    assert not faults.rolled_back(database(DENIED))
    assert not faults.rolled_back(RuntimeError("not the database's"))

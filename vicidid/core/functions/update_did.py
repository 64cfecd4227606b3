"""update_did: change a DID's routing and settings, or delete it with delete_did=Y.

The UPDATE (or DELETE) and its admin_log row are the function's closing writes: the
pipeline sends them with the api_log rows, in one round trip on MariaDB/MySQL.
"""

from __future__ import annotations

from vicidid.auth import rules as auth
from vicidid.core import audit
from vicidid.core.call import Call, Done
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Given
from vicidid.core.validate import check_fields, read_required
from vicidid.fields import DELETE_DID, DID_FIELDS, DID_PATTERN
from vicidid.rows import DidRow
from vicidid.store.statements import changes as changes_store

PARAMETERS = (DID_PATTERN, *DID_FIELDS, DELETE_DID)
# What an update reads of the row: enough to find it and check visibility.
READ = ("did_id", "did_pattern", "user_group")


def run(call: Call) -> list[Outcome] | Done:
    pattern, error = read_required(call, DID_PATTERN, data=call.params.shown(DID_PATTERN))
    if error:
        return [error]
    row = call.did(pattern, READ)
    missing = call.answer(Kind.DID_NOT_FOUND, did=pattern)
    if row is None or not auth.sees(call.caller, row.get("user_group")):
        return missing

    delete = call.params.read(DELETE_DID)
    if isinstance(delete, Given) and delete.value == "Y":
        return _delete(call, row, pattern, missing)

    changes, error = check_fields(call, DID_FIELDS)
    if error:
        return [error]
    if not changes:
        return call.answer(Kind.NO_UPDATES, did=pattern)
    sql = (
        f"UPDATE vicidial_inbound_dids set {audit.set_clause(changes)} "
        f"where did_id={audit.quote(row['did_id'])};"
    )
    notes = f"did: {pattern} did_id: {row['did_id']}"  # VICIdial's; `did history` reads the sql
    writes = (
        changes_store.did_update(call.conn, row["did_id"], changes),
        audit.admin_write(call, "MODIFY", "ADMIN API UPDATE DID", row["did_id"], sql, notes),
    )
    call.changes.append(pattern)
    answer = call.answer(Kind.UPDATED, did=pattern, did_id=row["did_id"])
    return Done(answer, writes, tuple(missing))


def _delete(call: Call, row: DidRow, pattern: str, missing: list[Outcome]) -> list[Outcome] | Done:
    """`pattern` is the DID as given (VICIdial answers and notes it as given, in its case)."""
    if not auth.may_delete(call.caller):
        return call.answer(Kind.NO_DELETE_PERMISSION, did=pattern)
    sql = f"DELETE from vicidial_inbound_dids where did_id={audit.quote(row['did_id'])} limit 1;"
    notes = f"did: {pattern} did_id: {row['did_id']}"
    writes = (
        changes_store.did_delete(row["did_id"]),
        audit.admin_write(call, "DELETE", "ADMIN API DELETE DID", row["did_id"], sql, notes),
    )
    call.changes.append(row["did_pattern"])
    answer = call.answer(Kind.DELETED, did=pattern, did_id=row["did_id"])
    return Done(answer, writes, tuple(missing))

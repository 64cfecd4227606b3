"""add_did: create a new DID with the given settings and VICIdial's defaults."""

from __future__ import annotations

from vicidid.core import audit
from vicidid.core.call import Call
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.validate import check_fields, read_required
from vicidid.fields import DID_FIELDS, DID_PATTERN
from vicidid.store.statements import queries

PARAMETERS = (DID_PATTERN, *DID_FIELDS)


def run(call: Call) -> list[Outcome]:
    pattern, error = read_required(call, DID_PATTERN, data=call.params.shown(DID_PATTERN))
    if error:
        return [error]
    # VICIdial checks existence across all user groups here: a DID number is global.
    if queries.did_by_pattern(call.conn, call.dids, pattern) is not None:
        return call.answer(Kind.DID_EXISTS, did=pattern)
    changes, error = check_fields(call, DID_FIELDS)
    if error:
        return [error]
    values = {"did_pattern": pattern, **changes}
    did_id = queries.insert_did(call.conn, call.dids, values)
    if did_id is None:  # another client added it since the check above
        return call.answer(Kind.DID_EXISTS, did=pattern)
    cols = ",".join(values)
    sql = (
        f"INSERT INTO vicidial_inbound_dids ({cols}) values "
        f"({','.join(audit.quote(v) for v in values.values())});"
    )
    audit.write(
        call,
        "ADD",
        "ADMIN API ADD DID",
        did_id,
        sql,
        f"did: {pattern} did_id: {did_id} inserted: 1",
    )
    call.changes.append(pattern)
    return call.answer(Kind.ADDED, did=pattern, did_id=did_id)

"""did_info (vicidid extension): every column of one visible DID."""

from __future__ import annotations

from vicidid.auth import rules as auth
from vicidid.core.call import Call
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.validate import read_required
from vicidid.fields import DID_PATTERN
from vicidid.store.statements import queries

PARAMETERS = (DID_PATTERN,)


def run(call: Call) -> list[Outcome]:
    pattern, error = read_required(call, DID_PATTERN, data=call.params.shown(DID_PATTERN))
    if error:
        return [error]
    row = queries.did_by_pattern(call.conn, call.dids, pattern)
    if row is None or not auth.sees(call.caller, row.get("user_group")):
        return call.answer(Kind.DID_NOT_FOUND, did=pattern)
    return call.answer(Kind.DID_INFO, did=pattern, did_id=row["did_id"], rows=[row])

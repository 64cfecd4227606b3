"""did_info (vicidid extension): every column of one visible DID."""

from __future__ import annotations

from vicidid import auth
from vicidid.call import Call
from vicidid.fields import DID_PATTERN
from vicidid.outcomes import Kind, Outcome
from vicidid.store import queries
from vicidid.validate import read_required

PARAMETERS = (DID_PATTERN,)


def run(call: Call) -> list[Outcome]:
    pattern, error = read_required(call, DID_PATTERN, data=call.params.shown(DID_PATTERN))
    if error:
        return [error]
    row = queries.did_by_pattern(call.conn, call.dids, pattern)
    if row is None or not auth.sees(call.caller, row.get("user_group")):
        return call.answer(Kind.DID_NOT_FOUND, did=pattern)
    return call.answer(Kind.DID_INFO, did=pattern, did_id=row["did_id"], rows=[row])

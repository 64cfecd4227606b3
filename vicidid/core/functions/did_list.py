"""did_list (vicidid extension): visible DIDs, filtered and paged."""

from __future__ import annotations

from vicidid.auth import rules as auth
from vicidid.core.call import Call
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.validate import check_fields
from vicidid.fields import LIST_FILTERS
from vicidid.store.statements import listing

PARAMETERS = LIST_FILTERS
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def run(call: Call) -> list[Outcome]:
    wanted, error = check_fields(call, LIST_FILTERS)
    if error:
        return [error]
    limit = int(wanted.get("limit", DEFAULT_LIMIT))
    if not 1 <= limit <= MAX_LIMIT:
        field = next(f for f in LIST_FILTERS if f.key == "limit")
        return call.answer(
            Kind.INVALID_FIELD,
            field=field,
            value=str(limit),
            extra={"rule": f"must be 1 to {MAX_LIMIT}"},
        )
    offset = int(wanted.get("offset", 0))
    filters = listing.DidFilters(
        route=wanted.get("route"),
        did_active=wanted.get("did_active"),
        group=wanted.get("group"),
        user_group=wanted.get("user_group"),
        prefix=wanted.get("prefix"),
        viewable_groups=auth.viewable_groups(call.caller),
    )
    rows = listing.did_page(call.conn, call.dids, filters, limit, offset)
    return call.answer(
        Kind.DID_LIST, rows=rows, extra={"limit": limit, "offset": offset, "count": len(rows)}
    )

"""copy_did: clone one DID's routing onto one new DID or a comma-separated list of them."""

from __future__ import annotations

import re

from vicidid.auth import rules as auth
from vicidid.core import audit
from vicidid.core.call import Call
from vicidid.core.outcomes import CopyCounts, Kind, Outcome
from vicidid.core.text import escaped
from vicidid.core.validate import check_fields, read_required
from vicidid.fields import COPY_FIELDS, DID_CHARS, NEW_DIDS, SOURCE_DID
from vicidid.rows import DidRow
from vicidid.store.statements import bulk, queries

PARAMETERS = (SOURCE_DID, NEW_DIDS, *COPY_FIELDS)
# A new DID is 1 (vicidial) or 2 (simple) to 50 characters: VICIdial would store an empty
# item with an empty pattern and cut a longer one, so those are reported instead.
VALID_ITEM = {n: re.compile(f"[{DID_CHARS}]{{{n},50}}") for n in (1, 2)}


def split_items(value: str, empty_items_invalid: bool) -> list[str]:
    items = value.split(",")
    return items if empty_items_invalid else [i for i in items if i]


def run(call: Call) -> list[Outcome]:
    data = f"{call.params.shown(SOURCE_DID)}|{call.params.shown(NEW_DIDS)}"
    source, error = read_required(call, SOURCE_DID, data)
    if error:
        return [error]
    new_dids, error = read_required(call, NEW_DIDS, data)
    if error:
        return [error]
    if call.policy.filtering and not NEW_DIDS.min_len <= len(new_dids) <= NEW_DIDS.max_len:
        return call.answer(
            Kind.INVALID_FIELD,
            field=NEW_DIDS,
            name="new_dids",
            value=new_dids,
            extra={"required": True, "data": data},
        )
    items = split_items(new_dids, call.policy.empty_items_invalid)
    if not items:
        return call.answer(
            Kind.MISSING_FIELD, field=NEW_DIDS, extra={"required": True, "data": data}
        )
    if len(items) > call.policy.max_new_dids:
        return call.answer(Kind.TOO_MANY_DIDS, did=source, extra={"count": len(items)})
    row = queries.did_by_pattern(call.conn, call.dids, source)
    if row is None or not auth.sees(call.caller, row.get("user_group")):
        return call.answer(Kind.DID_NOT_FOUND, did=source)
    changes, error = check_fields(call, COPY_FIELDS)
    if error and call.policy.description_in_loop:
        # VICIdial checks the description only when a DID is about to be inserted
        stopped = _stop_at_first_new(call, source, items, error)
        if stopped:
            return stopped
        changes = {}  # every DID exists: nothing to apply a description to
    elif error:
        return [error]
    return _copy(call, source, row, items, changes)


def _stop_at_first_new(
    call: Call, source: str, items: list[str], error: Outcome
) -> list[Outcome] | None:
    """The answer when a refused description meets the first DID that would be inserted:
    the DIDs before it, which exist, are reported as met, then the error; nothing is
    inserted. None when every DID exists (the check is never met)."""
    single = len(items) == 1
    valid = VALID_ITEM[call.policy.min_item_len]
    met: list[Outcome] = []
    for item in items:
        if not (valid.fullmatch(item) and queries.did_by_pattern(call.conn, call.dids, item)):
            return [*met, error]
        met.append(call.outcome(Kind.COPY_EXISTS, did=source, value=item, single=single))
    return None


def _copy(
    call: Call, source: str, row: DidRow, items: list[str], changes: dict[str, str]
) -> list[Outcome]:
    """`source` is the source DID as given: VICIdial answers and notes it so, in its case."""
    template = {k: v for k, v in row.items() if k not in ("did_id", "did_pattern")}
    template.update(changes)
    valid = VALID_ITEM[call.policy.min_item_len]
    wanted = list(dict.fromkeys(i for i in items if valid.fullmatch(i)))
    inserted = bulk.Inserted()
    try:
        insert_all(call, template, wanted, inserted)
    except Exception:
        if not call.transactional:  # what was inserted stays: audit it before failing
            audit.write_fresh(call, _stopped_row(call, source, row, template, wanted, inserted))
        raise
    new_ids = inserted.ids
    single = len(items) == 1
    outcomes: list[Outcome] = []
    log: list[str] = []
    added = existed = invalid = 0
    last_id = None
    for item in items:
        if not valid.fullmatch(item):
            invalid += 1
            outcomes.append(call.outcome(Kind.COPY_INVALID, did=source, value=item, single=single))
            log.append(f"{escaped(item)} INVALID")  # shown, never a line of its own
            continue
        did_id = new_ids.pop(item, None)  # a repeat of an item finds it gone: it exists
        if did_id is None:
            existed += 1
            outcomes.append(call.outcome(Kind.COPY_EXISTS, did=source, value=item, single=single))
            log.append(f"{item} ALREADY EXISTS")
            continue
        added += 1
        last_id = did_id
        call.changes.append(item)
        outcomes.append(
            call.outcome(Kind.COPIED, did=source, value=item, did_id=did_id, single=single)
        )
        log.append(f"{item} ADDED, did_id: {did_id}")
    counts = CopyCounts(added, existed, invalid)
    outcomes.append(call.outcome(Kind.COPY_SUMMARY, did=source, counts=counts, single=single))
    # VICIdial writes its COPY row whatever happened, also when nothing was inserted
    notes = (
        f"DID Source: {source} Inserts: {added} Insert Errors: {existed + invalid} "
        "Copy Log:\n" + "".join(line + "\n" for line in log)
    )
    record = "" if last_id is None else last_id
    audit.write(call, "COPY", "ADMIN API COPY DIDS", record, _copy_sql(template, row), notes)
    return outcomes


def _copy_sql(template: DidRow, row: DidRow) -> str:
    cols = ",".join(template)
    return (
        f"INSERT INTO vicidial_inbound_dids (did_pattern,{cols}) SELECT NEW,{cols} "
        f"from vicidial_inbound_dids where did_id={audit.quote(row['did_id'])};"
    )


def _stopped_row(
    call: Call,
    source: str,
    row: DidRow,
    template: DidRow,
    wanted: list[str],
    inserted: bulk.Inserted,
) -> dict[str, object]:
    """The COPY row of a copy whose inserts stopped part-way, naming what was inserted."""
    new_ids, sending = inserted.ids, inserted.sending
    if len(sending) > 1:  # a multi-row insert was under way: any of its rows may be there
        maybe = f"; any of {len(sending)} from {sending[0]} to {sending[-1]} may have been added"
    else:
        maybe = f"; {sending[0]} may have been added too" if sending else ""
    notes = (
        f"DID Source: {source} Inserts: {len(new_ids)} Insert Errors: 0 "
        "Copy Log:\n"
        + "".join(f"{p} ADDED, did_id: {i}\n" for p, i in new_ids.items())
        + f"STOPPED: the database failed after {len(new_ids)} of {len(wanted)} new DIDs"
        + maybe
        + "\n"
    )
    last_id = next(reversed(new_ids.values()), row["did_id"])
    return audit.row(call, "COPY", "ADMIN API COPY DIDS", last_id, _copy_sql(template, row), notes)


CHUNK = 200


def insert_all(
    call: Call, template: DidRow, patterns: list[str], inserted: bulk.Inserted | None = None
) -> dict[str, int]:
    """Insert a copy of the template for each pattern that does not exist yet.

    Returns the new did_id of each pattern this call inserted, also filled into `inserted`
    as it goes (a copy stopped part-way knows what it inserted, and what it was sending).
    Large copies go in chunks of multi-row inserts (one round trip per chunk, not per DID)
    where every new id is known exactly: where the database hands out consecutive ids and
    can undo a raced chunk (InnoDB, SQLite), or under LOCK TABLES (MyISAM,
    store/statements/bulk.py).
    Otherwise, and for any chunk a concurrent client raced into, one insert per DID decides.
    """
    inserted = bulk.Inserted() if inserted is None else inserted
    ids = inserted.ids
    if not call.bulk_ids and len(patterns) > 1:  # on MyISAM: under LOCK TABLES, if allowed
        done = bulk.insert_dids(call.conn, call.dids, template, patterns, inserted)
        patterns = patterns[done:]
    for start in range(0, len(patterns), CHUNK):
        chunk = patterns[start : start + CHUNK]
        if len(chunk) > 1:
            existing = queries.existing_patterns(call.conn, chunk)
            chunk = [p for p in chunk if p not in existing]
            if call.bulk_ids:
                inserted.sending = chunk
                got = queries.insert_dids(call.conn, call.dids, template, chunk)
                inserted.sending = []
                if got is not None:
                    ids.update(got)
                    continue
        for pattern in chunk:
            inserted.sending = [pattern]
            did_id = queries.insert_did(call.conn, call.dids, {**template, "did_pattern": pattern})
            inserted.sending = []
            if did_id is not None:
                ids[pattern] = did_id
    return ids

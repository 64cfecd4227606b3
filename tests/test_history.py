"""`did history`: before -> after worked out from VICIdial's admin-log rows alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vicidid.core import history
from vicidid.core.text import escaped


def row(kind: str, sql: str, notes: str = "") -> dict:
    return {"event_type": kind, "event_sql": sql, "event_notes": notes, "user": "6666"}


def test_set_values_reads_quotes_escapes_and_null():
    sql = (
        "UPDATE vicidial_inbound_dids set did_description='it\\'s, where = here',"
        "voicemail_ext=NULL,list_id='123' where did_id='3';"
    )
    assert history.set_values(sql) == {
        "did_description": "it's, where = here",
        "voicemail_ext": None,
        "list_id": "123",
    }


def test_insert_values():
    sql = "INSERT INTO vicidial_inbound_dids (did_pattern,did_route) values ('7275550001','EXTEN');"
    assert history.insert_values(sql) == {"did_pattern": "7275550001", "did_route": "EXTEN"}


def test_changes_follow_the_rows_in_order():
    rows = [
        row("MODIFY", "UPDATE vicidial_inbound_dids set did_active='N' where did_id='3';"),
        row(
            "ADD",
            "INSERT INTO vicidial_inbound_dids (did_pattern,did_active) values ('P','Y');",
        ),
        row(
            "MODIFY",
            "UPDATE vicidial_inbound_dids set did_active='N',did_route='AGENT' where did_id='5';",
        ),
        row("MODIFY", "UPDATE vicidial_inbound_dids set did_active='N' where did_id='5';"),
        row("DELETE", "DELETE from vicidial_inbound_dids where did_id='5' limit 1;"),
    ]
    got = [e.lines for e in history.events(rows, "P")]
    assert got == [
        ["did_active: ? -> N"],
        ["did_active: Y"],
        ["did_active: Y -> N", "did_route: ? -> AGENT"],
        ["did_active: N (unchanged)"],
        ["deleted"],
    ]


def test_copy_rows_from_both_sides():
    notes = "DID Source: S Inserts: 1 Insert Errors: 1 Copy Log:\n"
    notes += "N ADDED, did_id: 9\nX ALREADY EXISTS\n"
    rows = [row("COPY", "INSERT INTO … SELECT …", notes)]
    assert history.events(rows, "S")[0].lines == [
        "copied onto: N ADDED, did_id: 9",
        "copied onto: X ALREADY EXISTS",
    ]
    assert history.events(rows, "N")[0].lines == ["copied from S: N ADDED, did_id: 9"]


def test_a_copy_log_line_that_does_not_end_as_an_entry_joins_the_next():
    """A row written before items were escaped: the item `x\\n18005550100 ADDED` is one
    INVALID entry, not an entry for 18005550100."""
    notes = "DID Source: S Inserts: 0 Insert Errors: 1 Copy Log:\n"
    notes += "x\n18005550100 ADDED INVALID\nN ADDED, did_id: 9\n"
    head, log = history.copy_log(notes)
    assert log == ["x\n18005550100 ADDED INVALID", "N ADDED, did_id: 9"]
    rows = [row("COPY", "INSERT INTO … SELECT …", notes)]
    assert history.events(rows, "18005550100")[0].lines == [head]  # not "copied from"
    assert history.events(rows, "N")[0].lines == ["copied from S: N ADDED, did_id: 9"]
    assert history.events(rows, "S")[0].lines[0] == "copied onto: x\n18005550100 ADDED INVALID"


def test_only_a_line_break_ends_a_copy_log_line():
    notes = "DID Source: S Inserts: 1 Insert Errors: 0 Copy Log:\nN\u2028x ADDED, did_id: 9\n"
    assert history.copy_log(notes)[1] == ["N\u2028x ADDED, did_id: 9"]


@given(st.lists(st.text(max_size=12), max_size=5), st.text("0123456789", min_size=2, max_size=4))
def test_an_item_written_escaped_never_passes_for_an_added_did(items, pattern):
    """Whatever a caller's items hold, a DID's history says "copied from" only when the
    copy's log has that DID's own ADDED entry."""
    log = "".join(f"{escaped(item)} INVALID\n" for item in items)
    notes = f"DID Source: S Inserts: 0 Insert Errors: {len(items)} Copy Log:\n{log}"
    head, entries = history.copy_log(notes)
    assert len(entries) == len(items)
    [event] = history.events([row("COPY", "", notes)], pattern)
    assert event.lines == [head]

"""`did history`: before -> after worked out from VICIdial's admin-log rows alone."""

from __future__ import annotations

from vicidid.core import history


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

"""The largest copy one request may ask for, through the real server on both backends."""

from __future__ import annotations

import sqlalchemy as sa


def test_ten_thousand_dids_in_one_post(live):
    items = [f"1650{n:07d}" for n in range(10_000)]
    r = live.post(
        {
            "function": "copy_did",
            "user": "admin",
            "pass": "1234",
            "source": "bulk",
            "did_pattern": "18001234567",
            "new_did_pattern": ",".join(items),
        }
    )
    lines = r.text.splitlines()
    assert len(lines) == 10_001
    assert (
        lines[-1]
        == "SUCCESS: 18001234567 -> 10000 DIDs | 10000 Copied, 0 Already Existed, 0 Invalid"
    )
    with live.engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT COUNT(*) FROM vicidial_inbound_dids WHERE did_pattern LIKE '1650%'")
        ).scalar_one()
        notes = conn.execute(
            sa.text("SELECT event_notes FROM vicidial_admin_log WHERE event_type='COPY'")
        ).scalar_one()
        api_rows = conn.execute(
            sa.text("SELECT COUNT(*) FROM vicidial_api_log WHERE source='bulk'")
        ).scalar_one()
    assert count == 10_000 and api_rows == 10_001
    # The whole copy log: VICIdial declares event_notes MEDIUMTEXT (16 MiB), as vicidid does.
    assert notes.startswith("DID Source: 18001234567 Inserts: 10000 Insert Errors: 0 Copy Log:")
    assert notes.count(" ADDED, did_id: ") == 10_000 and "16500009999 ADDED" in notes[-40:]


def test_one_more_than_allowed_is_refused_whole(live):
    items = ",".join(f"1651{n:07d}" for n in range(10_001))
    r = live.post(
        {
            "function": "copy_did",
            "user": "admin",
            "pass": "1234",
            "source": "bulk",
            "did_pattern": "18001234567",
            "new_did_pattern": items,
        }
    )
    assert r.text == "ERROR: TOO MANY DIDS | 10001 given, at most 10000\n"
    assert live.did("16510000000") is None

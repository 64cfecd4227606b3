"""Bulk provisioning from the command line: `vicidid did import` / `did export`."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.conftest import serve
from vicidid.cli import bulk, main
from vicidid.errors import BulkError

LOGIN = ["--user", "admin", "--password", "1234"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("(800) 222-3300", "8002223300"),
        ("+1 800.222.3301", "+18002223301"),
        (" 18001234567 ", "18001234567"),
    ],
)
def test_normalise(raw, clean):
    assert bulk.normalise(raw) == clean


def test_read_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("name,did\nA,(800) 222-3300\n\nB,800-222-3301\nC,\n")
    assert bulk.read_numbers(path) == ["8002223300", "8002223301", ""]
    path.write_text("18001112222\n18001112223\n")
    assert bulk.read_numbers(path) == ["18001112222", "18001112223"]
    with pytest.raises(BulkError):
        bulk.read_numbers(tmp_path / "missing.csv")


@pytest.mark.parametrize("text", ["1-", "abc-def", "100-99", "0100-200", "1-200000"])
def test_bad_ranges(text):
    with pytest.raises(BulkError):
        bulk.expand_range(text)


def test_range_keeps_leading_zeros():
    assert bulk.expand_range("0098-0101") == ["0098", "0099", "0100", "0101"]


def run(url, *args, input=None):
    return CliRunner().invoke(main, ["--db", url, *args], input=input)


def counts(output: str) -> dict[str, int]:
    """The summary table: {"added": n, "already existed": n, "invalid": n, …}."""
    found = re.findall(r"^  (\w[\w ]*?)\s+(\d+)$", output, flags=re.M)
    return {label: int(n) for label, n in found}


def test_import_csv_counts_rows_and_audit(demo_engine, tmp_path):
    url = demo_engine.url.render_as_string(hide_password=False)
    numbers = [f"1800300{n:04d}" for n in range(1000)]
    path = tmp_path / "numbers.csv"
    path.write_text(
        "did\n" + "\n".join([*numbers, "bad!", "x", "", "18001234567", numbers[5]]) + "\n"
    )
    r = run(url, "did", "import", str(path), "--like", "18001234567", *LOGIN)
    assert r.exit_code == 0, r.output
    assert counts(r.output) == {"added": 1000, "already existed": 2, "invalid": 2}
    with demo_engine.connect() as conn:
        routes = conn.execute(
            sa.text(
                "SELECT DISTINCT did_route, group_id FROM "
                "vicidial_inbound_dids WHERE did_pattern LIKE "
                "'1800300%'"
            )
        ).all()
        notes = (
            conn.execute(
                sa.text("SELECT event_notes FROM vicidial_admin_log WHERE event_type='COPY'")
            )
            .scalars()
            .all()
        )
    assert routes == [("IN_GROUP", "SALES_TEAM")]
    inserts = sum(int(n.split("Inserts: ")[1].split()[0]) for n in notes)
    assert inserts == 1000


def test_dry_run_changes_nothing(demo_engine):
    url = demo_engine.url.render_as_string(hide_password=False)
    r = run(
        url,
        "did",
        "import",
        "--range",
        "18004000000-18004000009",
        "--like",
        "18001234567",
        "--dry-run",
        *LOGIN,
    )
    assert r.exit_code == 0, r.output
    assert counts(r.output)["would be added"] == 10
    with demo_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM vicidial_inbound_dids")).scalar() == 1


def test_bad_input_is_one_message(demo_engine, tmp_path):
    url = demo_engine.url.render_as_string(hide_password=False)
    cases = [
        (["--like", "18001234567", *LOGIN], "give a CSV file or --range"),
        ([str(tmp_path / "nope.csv"), "--like", "18001234567", *LOGIN], "cannot read"),
        (["--range", "5-1", "--like", "18001234567", *LOGIN], "ends before it starts"),
        (
            ["--range", "18004000000-18004000001", "--like", "19990000000", *LOGIN],
            "ERROR: DID PATTERN NOT FOUND",
        ),
        (
            [
                "--range",
                "18004000000-18004000001",
                "--like",
                "18001234567",
                "--user",
                "admin",
                "--password",
                "wrong",
            ],
            "ERROR: INVALID USERNAME OR PASSWORD",
        ),
    ]
    for args, message in cases:
        r = run(url, "did", "import", *args)
        assert r.exit_code != 0 and message in r.output, (args, r.output)
        assert "Traceback" not in r.output


def test_export_round_trip(demo_engine):
    url = demo_engine.url.render_as_string(hide_password=False)
    run(url, "did", "import", "--range", "18005000000-18005000004", "--like", "18001234567", *LOGIN)
    r = run(url, "did", "export", "--prefix", "1800500")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [row["did_pattern"] for row in rows] == [f"1800500000{n}" for n in range(5)]
    assert "inbound_route_answer" in rows[0] and rows[0]["did_route"] == "IN_GROUP"


def test_remote_import_and_export(demo_engine):
    with serve(demo_engine) as live:
        url = demo_engine.url.render_as_string(hide_password=False)
        r = run(
            url,
            "did",
            "import",
            "--range",
            "18006000000-18006000049",
            "--like",
            "18001234567",
            "--url",
            live.url,
            *LOGIN,
        )
        assert r.exit_code == 0, r.output
        assert counts(r.output) == {"added": 50, "already existed": 0, "invalid": 0}
        r = run(
            url,
            "did",
            "import",
            "--range",
            "18006000040-18006000059",
            "--like",
            "18001234567",
            "--url",
            live.url,
            "--dry-run",
            *LOGIN,
        )
        assert counts(r.output) == {"would be added": 10, "already existed": 10, "invalid": 0}
        r = run(url, "did", "export", "--url", live.url, "--prefix", "1800600", *LOGIN)
        assert r.exit_code == 0, r.output
        assert len(r.output.strip().splitlines()) == 51

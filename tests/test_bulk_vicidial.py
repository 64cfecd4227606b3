"""`did import --url` and `did export --url` against a real VICIdial's answers.

The stand-in on 127.0.0.1 answers with the lines VICIdial 2.14 printed for the same
requests (tests/data/vicidial_cases.json), so the CLI's remote mode is checked against
VICIdial's own text, not vicidid's JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner

from tests.stand_in import Answer, Seen, stand_in
from vicidid.cli import main

DATA = Path(__file__).parent / "data"
CASES = {c["case"]: c for c in json.loads((DATA / "vicidial_cases.json").read_text())}
LOGIN = ["--user", "6666", "--password", "1234"]


def recorded(seen: Seen) -> Answer:
    """VICIdial's recorded answer to the request whose parameters these are."""
    asked = parse_qs(seen.body.decode(), keep_blank_values=True) | parse_qs(seen.query)
    for case in CASES.values():
        wanted = parse_qs(case["query"])
        if "function" in wanted and all(
            asked.get(k) == v for k, v in wanted.items() if k != "source"
        ):
            return Answer(body=case["body"].encode(), headers=[("Content-Type", "text/html")])
    return Answer(body=b"ERROR: NO FUNCTION SPECIFIED\n", headers=[("Content-Type", "text/html")])


@pytest.fixture
def vicidial():
    with stand_in() as server:
        server.answer = recorded
        yield server


def run(*args: str):
    return CliRunner().invoke(main, ["--db", "sqlite://", *args])


def test_import_through_vicidial_reads_its_text(vicidial, tmp_path):
    csv = tmp_path / "dids.csv"
    csv.write_text("did\n18002223334\n18002223335\n18002223333\n")
    base = vicidial.url.removesuffix("/vicidial/non_agent_api.php")
    result = run("did", "import", str(csv), "--like", "18001234567", "--url", base, *LOGIN)
    assert result.exit_code == 0, result.output
    assert "  added                  2" in result.output
    assert "  already existed        1" in result.output
    [seen] = vicidial.seen
    # user and pass in the POST body, never in the URL
    assert seen.method == "POST" and "pass" not in seen.query
    form = parse_qs(seen.body.decode())
    assert form["pass"] == ["1234"] and form["user"] == ["6666"]
    assert form["new_dids"] == ["18002223334,18002223335,18002223333"]


def test_a_refusal_from_vicidial_is_one_clear_line(vicidial):
    base = vicidial.url.removesuffix("/vicidial/non_agent_api.php")
    result = run(
        "did", "import", "--range", "18002229999-18002229999", "--like", "19999999999",
        "--url", base, *LOGIN,
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {base} answered: ERROR: copy_did SOURCE DID DOES NOT EXIST: |6666|19999999999"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["did", "export", "--prefix", "1800"],
        ["did", "import", "--range", "18002220000-18002220001", "--like", "18001234567",
         "--dry-run"],
    ],
)  # fmt: skip
def test_functions_vicidial_lacks_say_so(vicidial, args):
    base = vicidial.url.removesuffix("/vicidial/non_agent_api.php")
    result = run(*args, "--url", base, *LOGIN)
    assert result.exit_code == 1
    assert "has no did_" in result.output and "ERROR: NO FUNCTION SPECIFIED" in result.output
    assert "Traceback" not in result.output
    assert vicidial.seen
    for seen in vicidial.seen:
        assert "pass=" not in seen.query
        assert parse_qs(seen.body.decode())["pass"] == ["1234"]

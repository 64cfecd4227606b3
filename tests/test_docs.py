"""The behaviour contract lives in the repository: docs/behaviour.md.

Its two catalogue tables are the dialects' own message catalogues, so a line changed or
added in code without the contract changing with it fails here; and no code or test
points at a document outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

from vicidid.core.dialects import simple, vicidial

ROOT = Path(__file__).parent.parent
CONTRACT = (ROOT / "docs" / "behaviour.md").read_text()


def cell(text: str) -> str:
    """Text as a Markdown table cell shows it: code, with pipes and newlines escaped."""
    return "`" + text.replace("|", "\\|").replace("\n", "\\n") + "`" if text else ""


def simple_table() -> str:
    rows = [f"| {cell(k)} | {cell(v)} |" for k, v in simple.CATALOGUE.items()]
    return "\n".join(["| outcome | line |", "|---|---|", *rows]) + "\n"


def vicidial_table() -> str:
    rows = [
        f"| {cell(k)} | {cell(e.line)} | {e.result} | {cell(e.reason)} | {cell(e.data)} |"
        for k, e in vicidial.CATALOGUE.items()
    ]
    head = ["| outcome | line | api_log result | reason | data |", "|---|---|---|---|---|"]
    return "\n".join([*head, *rows]) + "\n"


def test_the_contract_lists_the_simple_catalogue_as_it_is():
    assert simple_table() in CONTRACT, "docs/behaviour.md, simple catalogue:\n" + simple_table()


def test_the_contract_lists_the_vicidial_catalogue_as_it_is():
    table = vicidial_table()
    assert table in CONTRACT, "docs/behaviour.md, vicidial catalogue:\n" + table


def test_every_anchor_the_code_points_at_exists():
    anchors = set(re.findall(r'<a id="([a-z-]+)"></a>', CONTRACT))
    cited: set[str] = set()
    for path in [*ROOT.joinpath("vicidid").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]:
        cited |= set(re.findall(r"behaviour\.md#([a-z-]+)", path.read_text()))
    assert cited, "the code points at the contract somewhere"
    assert cited <= anchors, f"anchors missing from docs/behaviour.md: {cited - anchors}"


OUTSIDE = re.compile(r"SPEC ?§|\.\./shared|NON-AGENT-DID-FACTS|SPEC\.md")


def test_no_code_cites_a_document_outside_the_repository():
    cited = []
    for folder in ("vicidid", "tests", "bench", "scripts"):
        for path in ROOT.joinpath(folder).rglob("*"):
            if path.is_file() and path.suffix in ("", ".py", ".sh") and path != Path(__file__):
                text = path.read_text(errors="ignore")
                cited += [f"{path.relative_to(ROOT)}: {m}" for m in OUTSIDE.findall(text)]
    assert not cited, cited

"""docs/ARCHITECTURE.md names every module of the package, and only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "vicidid"
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text()


def modules() -> list[str]:
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))


def test_every_module_has_a_line():
    named = set(re.findall(r"`([\w/]+\.py)`", DOC))
    missing = [m for m in modules() if m not in named]
    assert missing == [], f"docs/ARCHITECTURE.md has no line for {missing}"


def test_every_module_named_exists():
    named = set(re.findall(r"`([\w/]+\.py)`", DOC))
    gone = sorted(n for n in named if not ((PACKAGE / n).is_file() or (ROOT / n).is_file()))
    assert gone == [], f"docs/ARCHITECTURE.md names modules that do not exist: {gone}"


def test_the_drawn_request_names_the_modules_its_sql_goes_through():
    """update_did's writes go from its function through store/statements/changes.py and
    core/audit.py to store/wire.py and store/mysqldb.py, as drawn."""
    update = (PACKAGE / "core" / "functions" / "update_did.py").read_text()
    audit = (PACKAGE / "core" / "audit.py").read_text()
    wire = (PACKAGE / "store" / "wire.py").read_text()
    assert "store.statements import changes" in update
    assert "wire.send(" in audit
    assert "mysqldb" in wire
    flow = DOC[DOC.index("One update_did, as the code runs it:") :]
    flow = flow[: flow.index("Where to look")]
    order = ["core/functions/update_did.py", "store/statements/changes.py", "core/audit.py"]
    order += ["store/wire.py send", "store/mysqldb.py"]
    at = 0
    for step in order:  # each drawn after the one before
        at = flow.index(step, at)

"""The Postman collection's own test scripts, run by newman against a live demo server.

newman is the npm package; scripts/test installs it into .tools/ (VICIDID_NEWMAN names
another). Without it the test is skipped and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import serve
from vicidid.cli import demo
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.web.openapi import render_postman

ROOT = Path(__file__).parent.parent
NEWMAN = os.environ.get("VICIDID_NEWMAN") or shutil.which(
    "newman", path=str(ROOT / ".tools" / "node_modules" / ".bin")
)


def test_every_request_carries_tests():
    collection = json.loads(render_postman())
    for item in collection["item"]:
        [event] = item["event"]
        script = "\n".join(event["script"]["exec"])
        assert event["listen"] == "test"
        assert "to.have.status(200)" in script and "pm.expect(first).to.match(" in script


@pytest.mark.skipif(
    NEWMAN is None,
    reason="newman is not installed (npm package; scripts/test installs it into .tools/)",
)
def test_newman_runs_the_collection_green_on_the_demo(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    init_db(engine)
    demo.load(engine)
    report = tmp_path / "newman.json"
    with serve(engine) as live:
        done = subprocess.run(
            [
                str(NEWMAN),
                "run",
                str(ROOT / "docs" / "postman_collection.json"),
                "--env-var",
                f"base_url={live.url}",
                "--reporters",
                "cli,json",
                "--reporter-json-export",
                str(report),
                "--disable-unicode",
                "--color",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    engine.dispose()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    stats = json.loads(report.read_text())["run"]["stats"]
    collection = json.loads(render_postman())
    assert stats["requests"]["total"] == len(collection["item"])
    assert stats["assertions"]["total"] == 2 * len(collection["item"])
    assert stats["assertions"]["failed"] == 0

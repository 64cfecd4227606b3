"""Arbitrary parameter sets thrown at the real endpoint (hypothesis).

Whatever arrives, the answer is well formed: status 200 (or 413), text/plain, every
line ends in a newline and starts with SUCCESS:, NOTICE: or ERROR:; and when the
answer is an error, the DIDs are exactly as before.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import serve
from vicidid import demo, fields
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

NAMES = sorted(
    {
        n
        for f in (
            *fields.DID_FIELDS,
            fields.DID_PATTERN,
            fields.NEW_DIDS,
            fields.SOURCE,
            fields.DELETE_DID,
        )
        for n in f.names
    }
    | {"function", "user", "pass", "format", "junk"}
)
FUNCTIONS = ["update_did", "copy_did", "add_did", "version", "did_info", "did_list", "", "x"]
VALUES = st.one_of(
    st.sampled_from(
        [
            "Y",
            "N",
            "18001234567",
            "18002223333",
            "SALES_TEAM",
            "MAIN_MENU",
            "AGENT",
            "IN_GROUP",
            "ALLCALLS",
            "1001",
            "admin",
            "1234",
            "test",
            "10.0.0.5",
            "Customer Support Line",
            "a,,b",
            "+1800",
            "'; DROP TABLE x;--",
        ]
    ),
    st.text(max_size=60),
)


@pytest.fixture(scope="module", params=["simple", "vicidial"])
def fuzz_server(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    demo.load(engine)
    with engine.begin() as conn:  # plain passwords: bcrypt would only slow the fuzzing
        conn.execute(sa.text("UPDATE system_settings SET pass_hash_enabled=0"))
        conn.execute(sa.text("UPDATE vicidial_users SET pass='1234'"))
    with serve(engine, dialect=request.param) as server:
        yield server
    engine.dispose()


def did_rows(server) -> list[tuple]:
    with server.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.text("SELECT * FROM vicidial_inbound_dids ORDER BY did_id"))
        ]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    function=st.sampled_from(FUNCTIONS),
    extra=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=8),
    post=st.booleans(),
)
def test_any_parameters_get_a_well_formed_answer(fuzz_server, function, extra, post):
    params = {"user": "admin", "pass": "1234", "source": "fuzz", "function": function, **extra}
    params.pop("format", None)
    before = did_rows(fuzz_server)
    if post:
        r = fuzz_server.post(params)
    else:
        r = fuzz_server.client.get(f"{fuzz_server.url}/vicidial/non_agent_api.php", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text.endswith("\n")
    lines = r.text.splitlines()
    if params["function"] in ("did_info", "did_list") and not r.text.startswith("ERROR"):
        return
    assert all(line.split(":")[0] in ("SUCCESS", "NOTICE", "ERROR", "VERSION") for line in lines)
    if all(line.startswith(("ERROR", "NOTICE")) for line in lines):
        assert did_rows(fuzz_server) == before

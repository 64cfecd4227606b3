"""One scoping rule: user-group names compared exactly by did_list on MariaDB (whose
collation is blind to case, accents and trailing spaces) as by did_info and update_did."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import serve
from tests.test_existing_vicidial import vicidial_url  # noqa: F401 (a fixture)
from vicidid.cli import demo
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

# user_group, group_id of each DID
VARIANTS = {
    "19000000001": ("SCOPED", "SALES"),
    "19000000002": ("scoped", "sales"),
    "19000000003": ("SCOPÉD", "SALÉS"),
    "19000000004": ("SCOPED ", "SALES "),
    "19000000005": ("Scoped", "SALES"),
    "19000000006": ("OTHER", "SALES"),
}
SEEN = {"19000000001"}  # the caller may view SCOPED only


def setup_variants(engine: sa.engine.Engine, user: str) -> None:
    with engine.begin() as conn:
        for pattern, (user_group, group_id) in VARIANTS.items():
            conn.execute(
                sa.text(
                    "INSERT INTO vicidial_inbound_dids (did_pattern, did_description, "
                    "user_group, group_id) VALUES (:p, 'scoping test', :u, :g)"
                ),
                {"p": pattern, "u": user_group, "g": group_id},
            )
        group = conn.execute(
            sa.text("SELECT user_group FROM vicidial_users WHERE user = :u"), {"u": user}
        ).scalar_one()
        conn.execute(
            sa.text(
                "UPDATE vicidial_user_groups SET admin_viewable_groups = 'SCOPED' "
                "WHERE user_group = :g"
            ),
            {"g": group},
        )


def listed(live, user: str, extra: str = "") -> set[str]:
    r = live.get(f"function=did_list&user={user}&pass=1234&source=test&format=json{extra}")
    assert r.status_code == 200, r.text
    return {row["did_pattern"] for row in r.json()["rows"]} & set(VARIANTS)


def found(live, user: str) -> set[str]:
    seen = set()
    for pattern in VARIANTS:
        r = live.get(f"function=did_info&user={user}&pass=1234&source=test&did_pattern={pattern}")
        if not r.text.startswith("ERROR"):
            seen.add(pattern)
    return seen


def check(engine: sa.engine.Engine, user: str) -> None:
    setup_variants(engine, user)
    with serve(engine) as live:
        assert found(live, user) == SEEN
        assert listed(live, user) == SEEN
        assert listed(live, user, "&user_group=SCOPED") == SEEN
        assert listed(live, user, "&user_group=scoped") == set()
        assert listed(live, user, "&group_id=SALES") == SEEN
        assert listed(live, user, "&group_id=sales") == set()


@pytest.mark.mariadb
def test_did_list_scopes_exactly_on_innodb(mariadb_url):
    engine = make_engine(mariadb_url)
    init_db(engine)
    demo.load(engine)
    try:
        check(engine, "admin")
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_did_list_scopes_exactly_on_vicidials_latin1_myisam_tables(vicidial_url):  # noqa: F811
    engine = make_engine(vicidial_url)
    try:
        check(engine, "6666")
    finally:
        engine.dispose()


def test_unrestricted_callers_still_see_every_variant(sqlite_url):
    engine = make_engine(sqlite_url)
    init_db(engine)
    demo.load(engine)
    setup_variants(engine, "admin")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_user_groups SET admin_viewable_groups = ' --ALL-- '"))
    with serve(engine) as live:
        assert listed(live, "admin") == set(VARIANTS)
        assert listed(live, "admin", "&user_group=SCOPED") == {"19000000001"}
    engine.dispose()

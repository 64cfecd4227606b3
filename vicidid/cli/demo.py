"""The demo data: what the two tutorials expect to find (README.md, first screen)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from vicidid.about import API_PATH
from vicidid.cli import admin
from vicidid.store.statements import admin_queries, logins, queries
from vicidid.web import openapi

DEMO_DID = "18001234567"
ADMIN_FLAGS = admin.UserFlags(
    level=9, group="ADMIN", functions="ALL_FUNCTIONS", api=True, modify_dids=True, delete_dids=True
)
AGENT_FLAGS = admin.UserFlags(
    level=1,
    group="ADMIN",
    functions="ALL_FUNCTIONS",
    api=False,
    modify_dids=False,
    delete_dids=False,
)
USERS = (
    ("admin", "1234", ADMIN_FLAGS),
    ("6666", "1234", ADMIN_FLAGS),
    ("1001", "1234", AGENT_FLAGS),
)


def load(engine: Engine) -> list[str]:
    """Add whatever demo rows are missing; returns what was added."""
    added: list[str] = []
    with engine.begin() as conn:
        if not admin_queries.group_exists(conn, "ADMIN"):
            admin.add_group(conn, "ADMIN", "---ALL---")
            added.append("group ADMIN")
        for user, password, flags in USERS:
            if logins.caller(conn, user) is None:
                admin.add_user(conn, user, password, flags)
                added.append(f"user {user}")
        for kind, value in (("ingroup", "SALES_TEAM"), ("menu", "MAIN_MENU")):
            if not queries.ref_exists(conn, kind, value):
                admin.add_reference(conn, kind, value)
                added.append(f"{kind} {value}")
        if not admin_queries.did_exists(conn, DEMO_DID):
            admin_queries.insert_did(
                conn,
                {
                    "did_pattern": DEMO_DID,
                    "did_description": "Customer Support Line",
                    "did_route": "IN_GROUP",
                    "group_id": "SALES_TEAM",
                },
            )
            added.append(f"DID {DEMO_DID}")
    return added


def tutorial_urls(base: str) -> list[str]:
    return [f"{base}{API_PATH}?{openapi.tutorial_query(n, 'admin', '1234')}" for n in (0, 1)]

"""Creating a database, and checking one vicidid did not create (it is never altered)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vicidid.auth import passhash
from vicidid.errors import ForeignDatabase
from vicidid.store import reflect, sizes
from vicidid.store import tables as t
from vicidid.store.db import table_engines

MARKER = sa.Table(
    "vicidid_meta",
    t.metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)
NEW_DB_COST = 10


@dataclass
class Report:
    missing: list[str] = field(default_factory=list)  # "table" or "table.column"
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


# What serving goes without while one of vicidid's own tables is missing (check-db).
WITHOUT = {
    t.idempotency.name: "Idempotency-Key is off until `vicidid init-db --add-missing` adds it",
    t.login_throttle.name: "the login throttle counts in each worker process on its own "
    "until `vicidid init-db --add-missing` adds it",
}


def _own_tables() -> list[sa.Table]:
    return [tbl for tbl in t.metadata.sorted_tables if tbl.name.startswith("vicidid_")]


def created_by_vicidid(engine: Engine) -> bool:
    names = set(sa.inspect(engine).get_table_names())
    if MARKER.name not in names:
        return False
    with engine.connect() as conn:
        row = conn.execute(sa.select(MARKER.c.value).where(MARKER.c.name == "created_by")).first()
    return row is not None


def holds_vicidial(engine: Engine) -> bool:
    names = set(sa.inspect(engine).get_table_names())
    return any(tbl.name in names for tbl in t.VICIDIAL_TABLES)


def init_db(engine: Engine, *, add_missing: bool = False) -> str:
    """Create vicidid's tables; returns what was done, in words."""
    if holds_vicidial(engine) and not created_by_vicidid(engine):
        if not add_missing:
            raise ForeignDatabase(
                "this database already holds VICIdial tables that vicidid did not create; "
                "vicidid never alters them. Use `vicidid check-db` to see whether it can serve "
                "it as it is, or `init-db --add-missing` to add only vicidid's own tables."
            )
        t.metadata.create_all(engine, tables=[tb for tb in _own_tables() if tb is not MARKER])
        done = ["added vicidid's own tables", *upgrade_own_tables(engine)]
        reflect.forget(engine)
        sizes.forget(engine)
        return "; ".join(done) + "; VICIdial's tables were not touched"
    t.metadata.create_all(engine)
    upgraded = upgrade_own_tables(engine)
    reflect.forget(engine)
    sizes.forget(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(MARKER.c.name)).first() is None:
            conn.execute(MARKER.insert().values(name="created_by", value="vicidid"))
        if conn.execute(sa.select(t.system_settings.c.pass_key)).first() is None:
            conn.execute(
                t.system_settings.insert().values(
                    pass_hash_enabled=1,
                    pass_key=passhash.random_pass_key(),
                    pass_cost=NEW_DB_COST,
                    allow_ip_lists=0,
                    system_ip_blacklist="",
                )
            )
    return "; ".join(["database ready", *upgraded])


def upgrade_own_tables(engine: Engine) -> list[str]:
    """Bring vicidid's own tables, never VICIdial's, to their current definition.

    vicidid_idempotency.body was TEXT (64 KiB on MariaDB, too small for the answer of a
    copy of a few hundred DIDs); it is MEDIUMTEXT in utf8mb4 now. The purge of expired
    keys wants an index on their date.
    """
    table = t.idempotency
    if table.name not in sa.inspect(engine).get_table_names():
        return []
    done = []
    body = sizes.read(engine).room(table.name, "body")
    if engine.dialect.name in ("mysql", "mariadb") and (
        body is None or (body.size or 0) < 16_777_215 or body.widest != 4
    ):
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"ALTER TABLE {table.name} "
                    "MODIFY body MEDIUMTEXT CHARACTER SET utf8mb4 NOT NULL"
                )
            )
        done.append(f"{table.name}.body widened to MEDIUMTEXT")
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(engine)
            done.append(f"index {index.name} added")
    return done


def check_db(engine: Engine) -> Report:
    """What vicidid needs and does not find, and what it cannot guarantee here."""
    report = Report()
    inspector = sa.inspect(engine)
    names = set(inspector.get_table_names())
    for table in t.VICIDIAL_TABLES:
        if table.name not in names:
            report.missing.append(table.name)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        report.missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
    for table in _own_tables():
        if table.name not in names and table.name != MARKER.name:
            report.warnings.append(f"{table.name} is missing: {WITHOUT[table.name]}")
    if engine.dialect.name in ("mysql", "mariadb") and not report.missing:
        report.warnings += _myisam_warnings(engine)
    return report


def _myisam_warnings(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        engines = table_engines(conn)
    wanted = {tbl.name for tbl in t.VICIDIAL_TABLES}
    myisam = sorted(name for name, eng in engines.items() if name in wanted and eng == "MYISAM")
    if not myisam:
        return []
    warnings = [
        f"{', '.join(myisam)} use MyISAM: a change and its audit rows are written one after "
        "the other, not in one transaction (a lost connection or a crash between them can "
        "leave the change without its audit row; see README, MyISAM)"
    ]
    if galera_node(engine):
        warnings.append(
            "this server is a Galera cluster node, and Galera does not replicate MyISAM "
            "tables: DIDs, users and log rows written here stay on this node (only "
            "vicidid's own InnoDB schema can run on Galera; see docs/deploy.md, Galera)"
        )
    return warnings


def galera_node(engine: Engine) -> bool:
    """Whether the server is a node of a Galera cluster (wsrep on)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SHOW VARIABLES LIKE 'wsrep_on'")).first()
    return row is not None and str(row[1]).upper() == "ON"

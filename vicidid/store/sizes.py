"""How much each column holds, as the database declares it, and values cut to fit.

A value longer than its column, or with a character its column's character set lacks, is
an error on a MariaDB in strict mode (VICIdial's own installs often run so) and is cut or
replaced silently otherwise. vicidid cuts every value it writes the same way on every
database, so that a long echoed value or URL never turns a request into a database error.

The sizes are read once per engine by inspecting the real tables, never assumed:
VARCHAR(n) and CHAR(n) hold n characters; MariaDB's TEXT types hold bytes (TINYTEXT 255,
TEXT 65,535, MEDIUMTEXT 16 MiB, LONGTEXT 4 GiB) in the column's character set. SQLite
declares no size for TEXT and holds any character.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from vicidid.store import tables as t
from vicidid.store.db import PerEngine

_Row = TypeVar("_Row", bound=Mapping[str, object])

TEXT_BYTES = {
    "TINYTEXT": 255,
    "TEXT": 65_535,
    "MEDIUMTEXT": 16_777_215,
    "LONGTEXT": 4_294_967_295,
}
# MariaDB's character sets as Python codecs, with the most bytes one character takes.
# MariaDB's latin1 is Windows-1252; its utf8 (utf8mb3) lacks characters beyond U+FFFF.
CODECS = {
    "latin1": ("cp1252", 1),
    "ascii": ("ascii", 1),
    "utf8": ("utf-8", 3),
    "utf8mb3": ("utf-8", 3),
    "utf8mb4": ("utf-8", 4),
}
# The drivers' own names for the character sets Python spells otherwise
DRIVER_CODECS = {"koi8r": "koi8_r", "koi8u": "koi8_u", "sjis": "shift_jis", "ujis": "euc_jp"}
NOTE_ROOM = 40  # what "... (12345 more bytes)\n" needs, with room to spare

# The tables vicidid writes to.
WRITTEN = (
    t.inbound_dids.name,
    t.users.name,
    t.api_log.name,
    t.api_urls.name,
    t.admin_log.name,
    t.idempotency.name,
)


@dataclass(frozen=True)
class Room:
    """What one column holds: `size` characters, or bytes; None when nothing is declared."""

    size: int | None
    in_bytes: bool = False
    codec: str = "utf-8"
    widest: int = 4  # bytes of the widest character in this codec
    bmp_only: bool = False
    link: str | None = None  # the connection's codec, when it holds less than utf-8

    @property
    def sure(self) -> float:
        """Up to this many ASCII characters surely fit (a quick test before the real one)."""
        if self.size is None:
            return float("inf")
        return self.size // self.widest if self.in_bytes else self.size

    def holds(self, text: str) -> bool:
        """Whether the text goes in whole and unchanged."""
        return self.fit(text) == text

    def carries(self, text: str) -> bool:
        """Whether the column (and the connection) has every character of the text."""
        return self._encodable(text) == text

    def fit(self, text: str, note: bool = False) -> str:
        """The text as the column can hold it: unknown characters as `?`, then cut.

        With `note`, a cut text says how much was left out (at a line break if it can).
        """
        text = self._encodable(text)
        if self.size is None:
            return text
        note = note and self.size > 2 * NOTE_ROOM
        limit = self.size - NOTE_ROOM if note else self.size
        if not self.in_bytes:
            if len(text) <= self.size:
                return text
            return _noted(text[:limit], "characters", len(text), len) if note else text[:limit]
        if len(text) * self.widest <= self.size:
            return text
        data = text.encode(self.codec)
        if len(data) <= self.size:
            return text
        kept = data[:limit].decode(self.codec, errors="ignore")
        if not note:
            return kept
        return _noted(kept, "bytes", len(data), lambda s: len(s.encode(self.codec)))

    def _encodable(self, text: str) -> str:
        if text.isascii():
            return text
        if self.bmp_only:
            text = "".join(c if ord(c) <= 0xFFFF else "?" for c in text)
        for codec in (self.codec, self.link) if self.link else (self.codec,):
            try:
                text.encode(codec)
            except UnicodeEncodeError:
                text = text.encode(codec, errors="replace").decode(codec)
        return text


def _noted(kept: str, unit: str, total: int, measure: Callable[[str], int]) -> str:
    kept = kept[: kept.rfind("\n") + 1] or kept
    return kept + f"... ({total - measure(kept)} more {unit})\n"


class Sizes:
    """The rooms of the columns of the tables vicidid writes, by table and column."""

    def __init__(self, rooms: dict[str, dict[str, Room]]) -> None:
        self._rooms = rooms
        self._sure = {
            table: {column: (room.sure, room) for column, room in columns.items()}
            for table, columns in rooms.items()
        }

    def room(self, table: str, column: str) -> Room | None:
        return self._rooms.get(table, {}).get(column)

    def fit(self, table: str, values: _Row) -> _Row:
        """The row's values, each text cut to its column (the same dict when all fit)."""
        rooms = self._sure.get(table)
        if not rooms:
            return values
        fitted: dict[str, object] | None = None
        for column, value in values.items():
            entry = rooms.get(column)
            if entry is None or not isinstance(value, str):
                continue
            if len(value) <= entry[0] and value.isascii():
                continue  # the common case, decided without encoding anything
            cut = entry[1].fit(value)
            if cut != value:
                fitted = fitted if fitted is not None else dict(values)
                fitted[column] = cut
        # the copy has the same columns, each text still a text
        return values if fitted is None else cast(_Row, fitted)

    def fit_value(self, table: str, column: str, value: str, note: bool = False) -> str:
        room = self.room(table, column)
        return value if room is None else room.fit(value, note)


def link_codec(bind: Engine | Connection) -> str | None:
    """The Python codec of the connection's character set (`charset=` in a MariaDB URL);
    None where any text travels (SQLite, utf8mb4) or Python has no such codec."""
    url = bind.engine.url
    if url.get_backend_name() not in ("mysql", "mariadb"):
        return None
    name = str(url.query.get("charset", "utf8mb4")).lower()
    if name == "utf8mb4":
        return None
    if name in CODECS:
        return CODECS[name][0]
    try:
        return codecs.lookup(DRIVER_CODECS.get(name, name)).name
    except LookupError:
        return None


def room_of(
    type_: sa.types.TypeEngine[Any], mysql: bool, charset: str | None, link: str | None = None
) -> Room | None:
    """The room of a column of this reflected type; None for types that are not text.

    `link`: the connection's codec, when a value must also travel through it."""
    if not isinstance(type_, sa.String) or isinstance(type_, sa.Enum):
        return None  # numbers, dates, binaries; an ENUM holds only its choices
    if not mysql:
        # SQLite stores any text whole; a declared VARCHAR(n) is kept to, as on MariaDB.
        return Room(type_.length) if type_.length and not isinstance(type_, sa.Text) else None
    codec, widest = CODECS.get(
        getattr(type_, "charset", None) or charset or "utf8mb4", ("utf-8", 4)
    )
    name = type(type_).__name__.upper()
    if name in TEXT_BYTES:
        return Room(
            TEXT_BYTES[name],
            in_bytes=True,
            codec=codec,
            widest=widest,
            bmp_only=widest == 3,
            link=link,
        )
    return Room(type_.length or None, codec=codec, widest=widest, bmp_only=widest == 3, link=link)


def read(bind: Engine | Connection) -> Sizes:
    """Inspect the tables vicidid writes to (those present) and note every text column's room."""
    inspector = sa.inspect(bind)
    mysql = inspector.dialect.name in ("mysql", "mariadb")
    present = set(inspector.get_table_names())
    link = link_codec(bind) if mysql else None
    rooms: dict[str, dict[str, Room]] = {}
    for table in WRITTEN:
        if table not in present:
            continue
        charset = inspector.get_table_options(table).get("mysql_default charset") if mysql else None
        rooms[table] = {
            c["name"]: room
            for c in inspector.get_columns(table)
            if (room := room_of(c["type"], mysql, charset, link)) is not None
        }
    return Sizes(rooms)


_known: PerEngine[Sizes] = PerEngine(read)


def load(engine: Engine) -> Sizes:
    """Read the sizes for this engine (at start-up), or the ones already read."""
    with engine.connect() as conn:
        return _known.get(conn)


def of(conn: Connection) -> Sizes:
    """The sizes for this connection's database, read once per engine."""
    return _known.get(conn)


def forget(engine: Engine) -> None:
    """Read the sizes again on next use (after init-db changed the tables)."""
    _known.forget(engine)

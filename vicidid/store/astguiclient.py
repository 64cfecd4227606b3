"""VICIdial's /etc/astguiclient.conf, read as VICIdial's own Perl and PHP read it.

Every VICIdial server has the file; its scripts take the database from lines such as
`VARDB_server => 10.0.0.5`. VICIdial reads each line so (its Perl `s/ |>|\\n|\\r|\\t|\\#.*|;.*//gi`,
then `s/.*=//`, and the same two expressions in PHP):

- from the first `#` or `;` on, the line is a comment;
- every space, tab, `>`, CR and LF is dropped, wherever it stands;
- a line names a key when, so cleaned, it starts with the key's name;
- the value is what follows the last `=`;
- a later line for a key wins over an earlier one; `VARDB_port` is 3306 when not given.

A password holding `#`, `;`, `=`, `>` or a space therefore does not reach VICIdial as
written: vicidid reads it exactly as VICIdial does, so that both use the same credentials,
and says which line lost characters (never the password itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from vicidid.errors import ConfigError

DEFAULT_PATH = "/etc/astguiclient.conf"
REQUIRED = ("VARDB_server", "VARDB_database", "VARDB_user", "VARDB_pass")
OPTIONAL = ("VARDB_port", "PATHweb", "VARserver_ip")
KEYS = REQUIRED + OPTIONAL
DEFAULT_PORT = 3306
# VICIdial's cleaning of a line: a comment from `#` or `;` on, then the characters dropped
_COMMENT = re.compile(r"[#;].*", re.DOTALL)
_DROPPED = re.compile(r"[ >\n\r\t]")
_CHANGED = re.compile(r"[#;= >\t]")
_TRAILING_COMMENT = re.compile(r"[ \t]+[#;].*", re.DOTALL)  # `value   # note`: as meant


@dataclass(frozen=True)
class AstConfig:
    path: str
    values: dict[str, str]
    lines: dict[str, int]  # the line each value came from (1-based)
    notes: list[str] = field(default_factory=list)  # lines VICIdial reads otherwise than written

    @property
    def port(self) -> int:
        return int(self.values.get("VARDB_port") or DEFAULT_PORT)

    def url(self) -> str:
        """The database URL, the user and password percent-encoded; it holds the password."""
        return URL.create(
            "mysql",
            username=self.values["VARDB_user"],
            password=self.values["VARDB_pass"] or None,
            host=self.values["VARDB_server"],
            port=self.port,
            database=self.values["VARDB_database"],
        ).render_as_string(hide_password=False)


def clean(line: str) -> str:
    """A line as VICIdial keeps it: comment cut, spaces, tabs, `>` and line ends dropped."""
    return _DROPPED.sub("", _COMMENT.sub("", line))


def value_of(cleaned: str) -> str:
    """What follows the last `=` (VICIdial's greedy `s/.*=//`), or the whole when none."""
    return cleaned.rsplit("=", 1)[-1]


def parse(text: str, path: str = DEFAULT_PATH) -> AstConfig:
    """The keys vicidid uses, checked; a ConfigError names the file, the line and the key."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    odd: dict[str, int] = {}  # keys whose last line VICIdial reads otherwise than written
    for number, raw in enumerate(text.split("\n"), start=1):
        cleaned = clean(raw)
        key = next((k for k in KEYS if cleaned.startswith(k)), None)  # VICIdial's /^KEY/
        if key is None:
            continue
        if "=" not in cleaned:
            raise ConfigError(f"{path} line {number}: {key} has no `=>` and no value")
        values[key] = value_of(cleaned)
        lines[key] = number
        odd.pop(key, None)
        if _reads_otherwise(raw, key):
            odd[key] = number
    for key in REQUIRED:
        if key not in values:
            raise ConfigError(f"{path}: no {key} line (VICIdial's database is not named)")
        if not values[key] and key != "VARDB_pass":
            raise ConfigError(f"{path} line {lines[key]}: {key} is empty")
    port = values.get("VARDB_port", "")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(f"{path} line {lines['VARDB_port']}: VARDB_port is not a port number")
    notes = [
        f"{path} line {number}: {key} holds `#`, `;`, `=`, `>` or a space, which VICIdial "
        "drops or cuts at; vicidid reads it as VICIdial does"
        for key, number in odd.items()
    ]
    return AstConfig(path, values, lines, notes)


def _reads_otherwise(raw: str, key: str) -> bool:
    """Whether VICIdial reads this line's value otherwise than the text after `=>` says."""
    text = raw.rstrip("\r\n").lstrip(" \t")
    if not text.startswith(key):
        return True  # e.g. `VARDB_ pass`: spaces inside the key
    rest = text[len(key) :].lstrip(" \t")
    for sep in ("=>", "="):
        if rest.startswith(sep):
            written = _TRAILING_COMMENT.sub("", rest[len(sep) :]).strip(" \t")
            return bool(_CHANGED.search(written))
    return True


def read(path: str | Path = DEFAULT_PATH) -> AstConfig:
    """Read and parse the file; an unreadable or undecodable file is one ConfigError."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {name}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        number = data[: error.start].count(b"\n") + 1
        raise ConfigError(f"{name} line {number}: not UTF-8 text") from None
    return parse(text, name)


def found_hint(path: str, variable: str) -> str | None:
    """The start-up line when VICIdial's config is there but not used, else None
    (`variable`: the environment variable that names the config)."""
    if not Path(path).is_file():
        return None
    return (
        f"note: {path} found (a VICIdial server); this is not VICIdial's database. To serve "
        f"it, give --astguiclient {path} (or {variable}={path})"
    )

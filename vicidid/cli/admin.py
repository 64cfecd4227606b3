"""Managing users, groups and reference rows: the library under the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from vicidid.auth import passhash
from vicidid.auth import rules as auth
from vicidid.errors import AdminError
from vicidid.store import tables as t
from vicidid.store.statements import admin_queries, logins, queries


@dataclass
class UserFlags:
    level: int | None = None
    group: str | None = None
    functions: str | None = None
    api: bool | None = None
    modify_dids: bool | None = None
    delete_dids: bool | None = None
    active: bool | None = None


def functions_value(text: str) -> str:
    words = text.split()
    if not words:
        raise AdminError("--functions needs at least one function name, or ALL_FUNCTIONS")
    words = ["ALL_FUNCTIONS" if w.upper() in ("ALL", "ALL_FUNCTIONS") else w for w in words]
    return " " + " ".join(dict.fromkeys(words)) + " "


def password_columns(conn: Connection, password: str) -> dict[str, str]:
    """pass/pass_hash for a new password, as the system settings say VICIdial stores it."""
    if not password or len(password) > 100:
        raise AdminError("the password must be 1 to 100 characters")
    settings = auth.LoginSettings.from_row(logins.system_settings(conn))
    if settings.pass_hash_enabled:
        digest = passhash.hash_password(password, settings.pass_key, settings.pass_cost)
        return {"pass": "", "pass_hash": digest}
    return {"pass": password, "pass_hash": ""}


def _flag_columns(flags: UserFlags) -> dict[str, object]:
    cols: dict[str, object] = {}
    if flags.level is not None:
        if not 1 <= flags.level <= 9:
            raise AdminError("--level must be 1 to 9")
        cols["user_level"] = flags.level
    if flags.group is not None:
        cols["user_group"] = flags.group
    if flags.functions is not None:
        cols["api_allowed_functions"] = functions_value(flags.functions)
    for name, column in (
        ("api", "vdc_agent_api_access"),
        ("modify_dids", "modify_inbound_dids"),
        ("delete_dids", "delete_inbound_dids"),
    ):
        value = getattr(flags, name)
        if value is not None:
            cols[column] = "1" if value else "0"
    if flags.active is not None:
        cols["active"] = "Y" if flags.active else "N"
    return cols


def _check_user_name(user: str) -> None:
    if not (1 <= len(user) <= 20) or not all(c.isalnum() or c in "-_" for c in user):
        raise AdminError("user names are 1 to 20 letters, digits, - or _")


def add_user(conn: Connection, user: str, password: str, flags: UserFlags) -> None:
    _check_user_name(user)
    if logins.caller(conn, user) is not None:
        raise AdminError(f"user {user} already exists (use `vicidid user set`)")
    defaults = UserFlags(
        level=9,
        group="ADMIN",
        functions="ALL_FUNCTIONS",
        api=True,
        modify_dids=True,
        delete_dids=False,
        active=True,
    )
    merged = UserFlags(
        **{k: v if v is not None else getattr(defaults, k) for k, v in vars(flags).items()}
    )
    if not admin_queries.group_exists(conn, merged.group or ""):
        raise AdminError(f"no user group named {merged.group} (add it with `vicidid group add`)")
    values = {
        "user": user,
        "full_name": user,
        **_flag_columns(merged),
        **password_columns(conn, password),
    }
    admin_queries.insert_user(conn, values)


def set_user(conn: Connection, user: str, password: str | None, flags: UserFlags) -> None:
    if logins.caller(conn, user) is None:
        raise AdminError(f"no user named {user}")
    if flags.group is not None and not admin_queries.group_exists(conn, flags.group):
        raise AdminError(f"no user group named {flags.group}")
    values = _flag_columns(flags)
    if password is not None:
        values.update(password_columns(conn, password))
    if not values:
        raise AdminError("nothing to change: give --password or a flag")
    admin_queries.update_user(conn, user, values)


def unlock_user(conn: Connection, user: str) -> None:
    """Clear the failed-login count: the lockout ends now; active and password stay."""
    if not logins.unlock(conn, user):
        raise AdminError(f"no user named {user}")


def add_group(conn: Connection, group: str, viewable: str) -> None:
    _check_user_name(group)
    if admin_queries.group_exists(conn, group):
        raise AdminError(f"user group {group} already exists")
    words = viewable.split() or ["---ALL---"]
    if any("--ALL--" in w.upper() for w in words):
        shown = " ---ALL--- "
    else:
        shown = " " + " ".join(words) + " -"  # VICIdial ends the list with " -"
    admin_queries.insert_group(conn, group, group, shown)


REFERENCES = {
    "ingroup": (t.inbound_groups, "group_id", 20),
    "menu": (t.call_menus, "menu_id", 50),
    "server": (t.servers, "server_ip", 15),
}


def add_reference(conn: Connection, kind: str, value: str) -> None:
    table, column, max_len = REFERENCES[kind]
    if not 1 <= len(value) <= max_len or not all(c.isalnum() or c in "-_.:" for c in value):
        raise AdminError(
            f"{value!r} is not a valid {kind} id (1 to {max_len} letters, digits, - _ . :)"
        )
    if queries.ref_exists(conn, kind, value):
        raise AdminError(f"{kind} {value} already exists")
    values = {column: value}
    if kind == "server":
        values["server_id"] = value.replace(".", "")[-10:]
    admin_queries.insert_row(conn, table, values)

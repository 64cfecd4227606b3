"""`vicidid user`, `group`, `ingroup`, `menu`, `server`: the CLI skin over vicidid.cli.admin."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from vicidid.cli import admin
from vicidid.cli.context import Context, fail_on_db_errors

F = TypeVar("F", bound=Callable[..., Any])


def user_options(fn: F) -> F:
    for decorator in reversed(
        [
            click.option("--level", type=int, help="User level, 1-9 (default 9)."),
            click.option("--group", help="User group (default ADMIN)."),
            click.option("--functions", help='"update_did copy_did", ALL_FUNCTIONS or ALL.'),
            click.option("--api/--no-api", default=None, help="API access (default on)."),
            click.option(
                "--modify-dids/--no-modify-dids", default=None, help="May change DIDs (default on)."
            ),
            click.option(
                "--delete-dids/--no-delete-dids",
                default=None,
                help="May delete DIDs (default off).",
            ),
        ]
    ):
        fn = decorator(fn)
    return fn


ASK = "\0ask"  # --password given without a value


def password_option(help_: str) -> Callable[[F], F]:
    """--password VALUE, or --password alone: VICIDID_PASSWORD, else asked (hidden, twice)."""
    return click.option(
        "--password",
        is_flag=False,
        flag_value=ASK,
        help=help_ + " Give --password alone to take VICIDID_PASSWORD from the environment "
        "or, without it, to be asked (hidden, twice). A value on the command line stays in "
        "shell history and shows in `ps`: the environment or the prompt is safer.",
    )


def resolve_password(given: str | None) -> str:
    """The password meant by --password: its value, VICIDID_PASSWORD, or the prompt."""
    if given is not None and given != ASK:
        return given
    from_env = os.environ.get("VICIDID_PASSWORD")
    if from_env:
        return from_env
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def user() -> None:
    """API users."""


@user.command("add")
@click.argument("name")
@password_option("The user's password; without --password, as with it alone.")
@user_options
@click.pass_obj
@fail_on_db_errors
def user_add(obj: Context, /, name: str, password: str | None, **flags: object) -> None:
    """Add an API user."""
    password = resolve_password(password)
    with obj.engine.begin() as conn:
        admin.add_user(conn, name, password, _flags(flags))
    click.echo(f"user {name} added")


@user.command("set")
@click.argument("name")
@password_option("A new password.")
@click.option("--active/--inactive", default=None, help="Enable or disable the user.")
@user_options
@click.pass_obj
@fail_on_db_errors
def user_set(
    obj: Context, /, name: str, password: str | None, active: bool | None, **flags: object
) -> None:
    """Change an existing API user."""
    password = None if password is None else resolve_password(password)
    with obj.engine.begin() as conn:
        admin.set_user(conn, name, password, _flags({**flags, "active": active}))
    click.echo(f"user {name} changed")


@user.command("unlock")
@click.argument("name")
@click.pass_obj
@fail_on_db_errors
def user_unlock(obj: Context, name: str) -> None:
    """Clear a user's failed logins, so that a locked account may log in at once."""
    with obj.engine.begin() as conn:
        admin.unlock_user(conn, name)
    click.echo(f"user {name} unlocked")


def _flags(options: dict[str, Any]) -> admin.UserFlags:
    return admin.UserFlags(
        level=options.get("level"),
        group=options.get("group"),
        functions=options.get("functions"),
        api=options.get("api"),
        modify_dids=options.get("modify_dids"),
        delete_dids=options.get("delete_dids"),
        active=options.get("active"),
    )


@click.group()
def group() -> None:
    """User groups."""


@group.command("add")
@click.argument("name")
@click.option(
    "--viewable",
    default="---ALL---",
    show_default=True,
    help='User groups whose DIDs members see: "SALES OTHER" or ---ALL---.',
)
@click.pass_obj
@fail_on_db_errors
def group_add(obj: Context, name: str, viewable: str) -> None:
    """Add a user group."""
    with obj.engine.begin() as conn:
        admin.add_group(conn, name, viewable)
    click.echo(f"group {name} added")


def _reference_group(kind: str, noun: str) -> click.Group:
    @click.group(kind, help=f"{noun.capitalize()}s that DIDs may point at.")
    def grp() -> None:
        pass

    @grp.command("add", help=f"Add a {noun}.")
    @click.argument("value")
    @click.pass_obj
    @fail_on_db_errors
    def add(obj: Context, value: str) -> None:
        with obj.engine.begin() as conn:
            admin.add_reference(conn, kind, value)
        click.echo(f"{noun} {value} added")

    return grp


ingroup = _reference_group("ingroup", "in-group")
menu = _reference_group("menu", "call menu")
server = _reference_group("server", "server")

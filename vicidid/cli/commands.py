"""The `vicidid` command: a thin skin over the library (commands: README.md).

The group and its --db option are here; each command lives with its kind: db_commands
(init-db, check-db), serve, admin_commands (user, group, ingroup, menu, server),
did_commands (did, with did_import's import and export), throttle_commands (throttle), setup_command
(setup). --astguiclient reads the database from VICIdial's config (store/astguiclient.py).
"""

from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from vicidid.cli.admin_commands import group, ingroup, menu, server, user
from vicidid.cli.context import context_for
from vicidid.cli.db_commands import check_db_cmd, init_db_cmd
from vicidid.cli.did_commands import did
from vicidid.cli.serve import serve
from vicidid.cli.setup_command import setup
from vicidid.cli.throttle_commands import throttle
from vicidid.web import settings


@click.group()
@settings.option("db_url")
@settings.option("astguiclient", metavar="FILE")
@click.version_option(package_name="vicidid")
@click.pass_context
def main(ctx: click.Context, db_url: str, astguiclient: str) -> None:
    """vicidid: VICIdial's Non-Agent API for inbound DIDs."""
    db_given = ctx.get_parameter_source("db_url") is not ParameterSource.DEFAULT
    ctx.obj = context_for(db_url, db_given, astguiclient or None)


for command in (
    init_db_cmd,
    check_db_cmd,
    serve,
    user,
    group,
    ingroup,
    menu,
    server,
    did,
    throttle,
    setup,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

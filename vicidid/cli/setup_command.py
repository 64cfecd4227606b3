"""`vicidid setup`: vicidid beside an existing VICIdial, in one command (docs/deploy.md).

Reads /etc/astguiclient.conf, checks the database (never altering it), creates the system
user, writes the environment file, the systemd unit and the web server's lines, starts
it all and checks it end to end through the web server. `--undo` puts everything back.
What is decided lives in setup_plan.py; what is done, in setup_apply.py and setup_undo.py.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from vicidid.about import API_PATH
from vicidid.cli import setup_apply as do
from vicidid.cli import setup_undo
from vicidid.cli.context import Context, fail_on_db_errors
from vicidid.cli.setup_plan import (
    DEFAULT_EXECUTABLE,
    RECORD_PATH,
    UNIT_PATH,
    Options,
    grants,
    nginx_sites,
    plan,
    under,
)
from vicidid.errors import ConfigError, PlanError, SetupError
from vicidid.store import astguiclient
from vicidid.store.db import safe_url
from vicidid.store.schema import check_db
from vicidid.web.fallback import check_url


@click.command()
@click.option("--dry-run", is_flag=True, help="Show every change; change nothing.")
@click.option("--undo", is_flag=True, help="Put back everything setup changed.")
@click.option(
    "--root",
    default="/",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Work under this directory instead of / (a scratch root: no system user, no "
    "systemctl; --service-command starts things there).",
)
@click.option(
    "--port",
    default=8081,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="vicidid's, on 127.0.0.1.",
)
@click.option(
    "--php-port",
    default=8082,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The fallback site: VICIdial's PHP on 127.0.0.1, as before.",
)
@click.option("--fallback-url", default="", help="Where PHP answers (default: the fallback site).")
@click.option(
    "--web-server",
    type=click.Choice(["auto", "nginx", "apache"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--public-url",
    default="http://127.0.0.1",
    show_default=True,
    help="Where the web server answers, for the end-to-end check.",
)
@click.option("--no-user", is_flag=True, help=f"Do not create the system user {do.USER}.")
@click.option(
    "--service-command",
    default="",
    help="A shell command that (re)starts vicidid and reloads the web server, instead of "
    "systemctl (VICIDID_SETUP=apply or undo, VICIDID_SETUP_ROOT in its environment).",
)
@click.option(
    "--check-timeout",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait for vicidid to answer through the web server.",
)
@click.pass_obj
@fail_on_db_errors
def setup(
    obj: Context,
    dry_run: bool,
    undo: bool,
    root: Path,
    port: int,
    php_port: int,
    fallback_url: str,
    web_server: str,
    public_url: str,
    no_user: bool,
    service_command: str,
    check_timeout: float,
) -> None:
    """Set vicidid up beside VICIdial: config, database check, user, unit, web server."""
    real = root.resolve() == Path("/")
    if real and not dry_run and os.geteuid() != 0:
        raise click.ClickException("setup changes /etc: run it as root (or try --dry-run)")
    run = Run(real, dry_run, public_url, no_user, service_command, check_timeout)
    try:
        if undo:
            _undo(root, real, service_command, dry_run)
            return
        executable = Path(sys.executable).with_name("vicidid")
        options = Options(
            root=root,
            port=port,
            php_port=php_port,
            fallback_url=fallback_url,
            web_server=web_server,
            executable=str(executable) if executable.exists() else DEFAULT_EXECUTABLE,
        )
        _apply(obj, options, run)
    except (PlanError, ConfigError, OSError) as error:
        raise click.ClickException(str(error)) from None


@dataclass(frozen=True)
class Run:
    """How this run goes: on the real root or a scratch one, shown or done, checked where."""

    real: bool
    dry_run: bool
    public_url: str
    no_user: bool
    service_command: str
    check_timeout: float


def _apply(obj: Context, options: Options, run: Run) -> None:
    say = click.echo
    _check_fallback(options, run.public_url)
    if run.real and options.executable.startswith(("/home/", "/root/")):
        say(
            f"warning: the unit runs {options.executable}, but its ProtectHome=yes hides "
            "/home and /root from vicidid: install it under /opt (docs/deploy.md)"
        )
    config = _config(obj, options.root)
    _check_database(config, say)
    decided = plan(config, options, nginx_sites(options.root))
    say(f"web server: {decided.web_server}")
    record = do.Record(options.root)
    if run.real and not run.no_user:
        do.create_user(record, run.dry_run, say)
    else:
        why = "--no-user" if run.no_user else "scratch root"
        say(f"system user {do.USER}: not created ({why})")
    changed = do.write_files(decided, options, record, run.dry_run, say)
    if not run.dry_run:
        record.data["reload"] = decided.reload
        record.save()
    _start_and_check(decided.commands + decided.reload, options.root, run, changed)


def _start_and_check(commands: list[list[str]], root: Path, run: Run, changed: int) -> None:
    """vicidid (re)started and the web server reloaded, then the end-to-end check."""
    say = click.echo
    try:
        started = _services(commands, root, run.real, run.service_command, run.dry_run)
    except SetupError as error:
        raise SetupError(f"{error}; `vicidid setup --undo` puts back what it changed") from None
    if run.dry_run:
        if started:
            say(f"would check through the web server at {run.public_url}: version, add_lead")
        say(f"dry run: {changed} file(s) would change; nothing was changed")
        return
    if not started:
        say(f"done: {changed} file(s) changed, nothing started or checked")
        return
    results = do.check(run.public_url, run.check_timeout)
    for ok, line in results:
        say(("ok:        " if ok else "FAILED:    ") + line)
    if not all(ok for ok, _ in results):
        raise SetupError(
            "the end-to-end check failed (above); `vicidid setup --undo` puts back "
            "everything setup changed"
        )
    say(f"done: {changed} file(s) changed; record in {under(root, RECORD_PATH)}")


def _config(obj: Context, root: Path) -> astguiclient.AstConfig:
    if obj.astguiclient is not None:
        return obj.astguiclient
    if obj.db_given:
        raise click.UsageError("setup takes the database from astguiclient.conf: leave out --db")
    config = astguiclient.read(under(root, astguiclient.DEFAULT_PATH))
    for note in config.notes:
        click.echo(f"note: {note}", err=True)
    return config


def _check_fallback(options: Options, public_url: str) -> None:
    """The fallback must reach PHP directly: never the public path, never vicidid itself."""
    url = options.fallback()
    try:
        check_url(url)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    fallback, public = urlsplit(url), urlsplit(public_url)
    loops = fallback.port == options.port or (
        fallback.netloc == public.netloc and fallback.path.endswith(API_PATH)
    )
    if loops:
        raise click.ClickException(
            f"--fallback-url {url} leads back to vicidid: give PHP's own address (the "
            f"fallback site setup writes is http://127.0.0.1:{options.php_port}{API_PATH})"
        )


def _check_database(config: astguiclient.AstConfig, say: do.Say) -> None:
    """check-db on VICIdial's database, and the privileges vicidid uses there."""
    context = Context(config.url())
    say(f"database: {safe_url(context.db_url)} (from {config.path})")
    report = check_db(context.engine)
    for line in report.warnings:
        say(f"warning: {line}")
    context.engine.dispose()
    if not report.ok:
        raise click.ClickException(
            "the database lacks " + ", ".join(report.missing) + "; setup never alters "
            "VICIdial's tables"
        )
    say(
        "database: vicidid can serve it as it is (nothing altered). It uses, as "
        f"{config.values['VARDB_user']} (setup grants nothing):"
    )
    for line in grants(config):
        say(f"    {line}")


def _services(
    commands: list[list[str]], root: Path, real: bool, service_command: str, dry_run: bool
) -> bool:
    """Start vicidid and reload the web server; False when nothing is started."""
    say = click.echo
    if service_command:
        if dry_run:
            say(f"would run  {service_command}")
        else:
            do.service_command(service_command, "apply", root, say)
        return True
    if not real:
        say("services: not started in a scratch root (give --service-command); no check")
        return False
    _run_or_show(commands, dry_run)
    return True


def _run_or_show(commands: list[list[str]], dry_run: bool) -> None:
    for command in commands:
        if dry_run:
            click.echo("would run  " + " ".join(command))
        else:
            do.run(command, click.echo)


def _undo(root: Path, real: bool, service_command: str, dry_run: bool) -> None:
    say = click.echo
    record = do.Record(root)
    if not record.path.is_file():
        say(f"nothing to undo: no record at {record.path}")
        return
    if real and not service_command and UNIT_PATH in record.files:
        _run_or_show([["systemctl", "disable", "--now", "vicidid"]], dry_run)
    changed = setup_undo.undo_files(root, record, dry_run, say)
    if service_command:  # once the files are back: vicidid stopped, the web server reloaded
        if dry_run:
            say(f"would run  {service_command}")
        else:
            do.service_command(service_command, "undo", root, say)
    elif real:
        reload = [c for c in record.data.get("reload", []) if c[0] != "a2enmod"]
        _run_or_show([["systemctl", "daemon-reload"], *reload], dry_run)
    setup_undo.remove_user(record, dry_run, say)
    if dry_run:
        say(f"dry run: {changed} file(s) would be put back; nothing was changed")
        return
    setup_undo.forget(record, say)
    say(f"undone: {changed} file(s) put back")

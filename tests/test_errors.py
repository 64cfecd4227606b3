"""vicidid's own errors share one root, and the command line turns any of them into one line."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import pytest

import vicidid
from vicidid.cli.context import fail_on_db_errors
from vicidid.errors import VicididError
from vicidid.store.db import DriverMissing

# Not faults of vicidid: the client's errors carry a server's answer; _Enough and
# HeadTooLarge stop a parser part-way (neither leaves the module that raises it).
OUTSIDE_THE_ROOT = {
    "vicidid.client.api",
    "vicidid.web.forms._Enough",
    "vicidid.web.protocol.HeadTooLarge",
}


def _error_classes() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(vicidid.__path__, "vicidid."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                found.append(value)
    return found


def test_every_error_vicidid_defines_derives_from_the_root():
    classes = _error_classes()
    names = {f"{c.__module__}.{c.__name__}" for c in classes}
    assert "vicidid.cli.admin.AdminError" in names  # the scan does find them
    strays = [
        name
        for c, name in ((c, f"{c.__module__}.{c.__name__}") for c in classes)
        if not issubclass(c, VicididError)
        and name not in OUTSIDE_THE_ROOT
        and c.__module__ not in OUTSIDE_THE_ROOT
    ]
    assert strays == []


def test_the_root_keeps_the_builtin_bases_callers_relied_on():
    from vicidid.web.json_body import MalformedJson

    assert issubclass(MalformedJson, ValueError)
    assert issubclass(DriverMissing, RuntimeError)
    assert vicidid.VicididError is VicididError


def test_the_command_line_turns_any_vicidid_error_into_its_message():
    @fail_on_db_errors
    def needs_a_driver() -> None:
        raise DriverMissing("the URL needs the mysqlclient driver")

    with pytest.raises(click.ClickException) as caught:
        needs_a_driver()
    assert caught.value.message == "the URL needs the mysqlclient driver"

"""vicidid's own errors share one root, and the command line turns any of them into one line."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import pytest

import vicidid
from vicidid.cli.context import fail_on_db_errors
from vicidid.errors import DriverMissing, VicididError

# _Enough and HeadTooLarge stop a parser part-way (neither leaves the module that raises it).
OUTSIDE_THE_ROOT = {
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
    assert "vicidid.errors.AdminError" in names  # the scan does find them
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


def test_the_public_exceptions_live_in_one_module():
    """Each exception a caller may meet outside vicidid is in vicidid/errors.py; the client's
    are still importable from the client, and every public one from the package."""
    from vicidid import client, errors

    public = {name for name in vicidid.__all__ if name.endswith(("Error", "Denied", "Found"))}
    public |= {"AlreadyExists", "Unavailable"}
    for name in public:
        assert getattr(vicidid, name) is getattr(errors, name), name
    for name in client.__all__:
        if isinstance(getattr(client, name), type) and issubclass(getattr(client, name), Exception):
            assert getattr(client, name).__module__ == "vicidid.errors", name
    assert issubclass(errors.ApiError, VicididError)

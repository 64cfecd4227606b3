"""The access log: written off the request path, in batches, and never split by a value."""

from __future__ import annotations

import json
import logging
import sys
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vicidid import API_PATH
from vicidid.core.audit import URL_ERRORS, URL_MAX, logged_url
from vicidid.core.params import Params
from vicidid.core.text import escaped
from vicidid.web import access_log
from vicidid.web.access_log import JsonFormatter, KeyValueFormatter

TEXT = KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
# characters that end a line for one reader or another, and other control characters
BREAKING = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\x1b", "\x00"]


def access_record(**fields: object) -> logging.LogRecord:
    record = logging.LogRecord("vicidid.access", logging.INFO, "", 0, "request", None, None)
    record.fields = fields
    return record


@pytest.mark.parametrize("char", BREAKING)
def test_a_value_never_splits_a_text_line(char):
    line = TEXT.format(access_record(user=f"ad{char}min", path=f"/p?a=b{char}c d", ip="1.2.3.4"))
    assert len(line.splitlines()) == 1
    assert line.isprintable()
    mark = escaped(char)  # each one shown as its escape, as in answers
    assert f" user=ad{mark}min " in line
    assert f" path={json.dumps(f'/p?a=b{mark}c d')} " in line  # quoted: a JSON string


@pytest.mark.parametrize("char", BREAKING)
def test_a_warning_quoting_a_callers_value_stays_one_line(char):
    record = logging.LogRecord(
        "vicidid", logging.WARNING, "", 0, "fallback did not answer (function=%s): %s",
        (f"add{char}lead", "ConnectError"), None,
    )  # fmt: skip
    line = TEXT.format(record)
    assert len(line.splitlines()) == 1 and line.isprintable()
    assert line.endswith(f"(function=add{repr(char)[1:-1]}lead): ConnectError")


def test_a_traceback_still_follows_its_message():
    try:
        raise ValueError("boom")
    except ValueError:
        error = sys.exc_info()
    record = logging.LogRecord(
        "vicidid", logging.ERROR, "", 0, "failed (function=%s)", ("a\nb",), error
    )
    lines = TEXT.format(record).splitlines()
    assert lines[0].endswith("failed (function=a\\nb)")
    assert lines[1] == "Traceback (most recent call last):" and lines[-1] == "ValueError: boom"


@pytest.mark.parametrize("char", BREAKING)
def test_a_value_never_splits_a_json_line(char):
    line = JsonFormatter().format(access_record(user=f"ad{char}min"))
    assert len(line.splitlines()) == 1
    assert json.loads(line)["user"] == f"ad{char}min"  # escaped, not changed


def test_the_time_is_the_standard_one():
    record = access_record(user="x")
    record.created, record.msecs = 1795633789.25, 250.0
    stamp = logging.Formatter().formatTime(record)
    assert TEXT.format(record).startswith(f"{stamp} vicidid.access user=x")
    assert json.loads(JsonFormatter().format(record))["time"] == stamp


def test_a_request_line_is_written_on_flush(live, caplog):
    caplog.set_level(logging.INFO)
    live.get("function=did_info&user=ad%0Amin%E2%80%A8&pass=x&source=test")
    access_log.flush()
    [record] = [r for r in caplog.records if r.name == "vicidid.access"]
    line = TEXT.format(record)
    assert len(line.splitlines()) == 1
    assert " user=ad\\nmin\\u2028 " in line and " result=bad_login " in line
    assert "pass=" not in line


names = st.text(st.characters(codec="utf-8"), max_size=12)
plain_names = st.text("abcxyzABC019_.~- &=+%", max_size=12)


@given(
    st.dictionaries(st.one_of(names, plain_names, st.just("pass")), st.one_of(names, plain_names)),
    st.integers(0, 4_100),
)
def test_the_logged_url_is_urlencodes_text(raw, long):
    """The URL the audit stores and the access log shows, quoted only where a name or value
    needs it, is character for character urlencode's (each cut first, the whole cut last)."""
    if raw and long:  # a value long enough for the 4,000-character cut
        raw[next(iter(raw))] = "x" * long
    params = Params(raw, filtering=False)
    kept = [(k[:URL_MAX], v[:URL_MAX]) for k, v in raw.items() if k != "pass"]
    expected = f"{API_PATH}?{urlencode(kept, errors=URL_ERRORS)}" if kept else API_PATH
    if len(expected) > URL_MAX:
        expected = expected[: URL_MAX - 3] + "..."
    assert logged_url(API_PATH, params) == expected


def test_a_stream_that_fails_is_reported_not_raised(tmp_path, capsys):
    handler = access_log._Stream()
    handler.setFormatter(TEXT)
    handler.stream = (tmp_path / "log").open("w")
    handler.stream.close()  # writing to it raises
    record = access_record(user="x")
    record.batched = True
    handler.handle(record)
    handler.flush()  # no exception: reported on stderr, as logging reports its errors
    assert "Logging error" in capsys.readouterr().err

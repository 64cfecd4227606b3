"""When a draining server may stop (web/drain.py), decided without a server."""

from __future__ import annotations

import pytest

from vicidid.web.drain import LAST_SECONDS, QUIET, done
from vicidid.web.settings import Settings


def test_it_goes_on_while_requests_arrive_or_run():
    assert done(now=10.0, since=9.0, last_request=9.5, in_flight=0, grace=30) is None
    assert done(now=20.0, since=9.0, last_request=10.0, in_flight=1, grace=30) is None


def test_it_stops_when_quiet_with_what_is_left_of_the_grace_period():
    assert done(now=10.0 + QUIET, since=9.0, last_request=10.0, in_flight=0, grace=30) == (
        pytest.approx(30 - 1 - QUIET)
    )


def test_the_grace_period_bounds_it_even_under_load():
    assert done(now=40.0, since=9.0, last_request=39.9, in_flight=5, grace=30) == LAST_SECONDS


def test_a_negative_grace_period_is_refused():
    with pytest.raises(ValueError, match="drain grace"):
        Settings(drain_grace=-1)
    assert Settings.from_env({"VICIDID_DRAIN_GRACE": "5"}).drain_grace == 5.0

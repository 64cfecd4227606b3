"""core/audit.py: the URL stored in vicidial_api_urls."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from vicidid.core.audit import URL_MAX, logged_url
from vicidid.core.params import Params

texts = st.text(st.characters(codec="utf-8"), max_size=12)


@given(st.dictionaries(texts, texts, max_size=6))
def test_the_url_is_quoted_as_urlencode_quotes_it_without_the_password(raw):
    params = Params({**raw, "pass": "secret"}, filtering=False)
    kept = [(k, v) for k, v in raw.items() if k != "pass"]
    expected = f"/api?{urlencode(kept)}" if kept else "/api"
    assert logged_url("/api", params) == expected[:URL_MAX]


def test_a_long_url_is_cut_and_says_so():
    params = Params({"new_dids": "1" * (URL_MAX * 3)}, filtering=False)
    url = logged_url("/api", params)
    assert len(url) == URL_MAX and url.endswith("...") and url.startswith("/api?new_dids=111")

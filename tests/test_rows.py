"""The typed rows name columns the store really reads."""

from __future__ import annotations

from typing import get_type_hints

from vicidid.rows import CallerRow, SettingsRow
from vicidid.store.statements import logins


def test_every_caller_column_is_one_the_caller_query_selects():
    selected = set(logins.CALLER.selected_columns.keys())
    typed = set(get_type_hints(CallerRow))
    assert typed <= selected, typed - selected
    assert {"user", "pass", "pass_hash", "admin_viewable_groups", "api_ip_list"} <= typed


def test_the_settings_row_is_exactly_the_login_settings_read():
    assert set(get_type_hints(SettingsRow)) == set(logins.LOGIN_SETTINGS)

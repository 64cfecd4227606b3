"""The shapes of the rows that cross modules: read here in the store, decided on elsewhere.

The caller's row and the login settings are typed column by column. Values are typed as a
VICIdial database may really hold them: flags are ENUM text, NULL where a column allows
it, and a zero date comes back from some drivers as text. DID rows stay plain mappings of
column name to value, because their columns are read from the database at start-up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

# A vicidial_inbound_dids row: column name -> value. The columns are known only once the
# database is read, and each value is whatever the driver returns for its column.
DidRow = dict[str, Any]


# The vicidial_users columns vicidid reads, with the group's viewing and IP columns
# (None without a group); the row read from the database holds the user's other columns
# too. Written as a call because one column is named `pass`.
CallerRow = TypedDict(
    "CallerRow",
    {
        "user": str,
        "pass": str | None,
        "pass_hash": str | None,
        "user_level": int | str | None,
        "user_group": str | None,
        "active": str | None,
        "vdc_agent_api_access": str | int | None,
        "modify_inbound_dids": str | int | None,
        "delete_inbound_dids": str | int | None,
        "api_allowed_functions": str | None,
        "failed_login_count": int | str | None,
        "last_login_date": datetime | str | None,
        "last_ip": str | None,
        "ignore_ip_list": str | int | None,
        "admin_viewable_groups": str | None,
        "api_ip_list": str | None,
    },
)


class SettingsRow(TypedDict, total=False):
    """The system_settings columns a login needs; empty when the table has no row."""

    pass_hash_enabled: str | int | None
    pass_key: str | None
    pass_cost: str | int | None
    allow_ip_lists: str | int | None
    system_ip_blacklist: str | None

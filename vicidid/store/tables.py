"""VICIdial's tables, with VICIdial's names, columns and defaults (docs/behaviour.md#logs).

These definitions create a new database (`init-db`). On an existing VICIdial database
they are only a map of the columns vicidid reads and writes: the real tables may have
many more columns, and vicidid never issues DDL against them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

# VICIdial declares its long texts MEDIUMTEXT (16 MiB) on MariaDB; SQLite's TEXT has no size.
MEDIUM_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _s(name: str, length: int, default: str | None = None, **kw: Any) -> sa.Column[str]:
    server_default = None if default is None else sa.text(f"'{default}'")
    return sa.Column(name, sa.String(length), server_default=server_default, **kw)


def _i(name: str, default: int = 0) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, server_default=sa.text(str(default)), nullable=False)


EXT = "9998811112"

# Columns of vicidial_inbound_dids after did_id/did_pattern, with VICIdial's defaults;
# None means nullable with no default.
DID_COLUMNS: tuple[tuple[str, int, str | None], ...] = (
    ("did_description", 50, None),
    ("did_active", 1, "Y"),
    ("did_route", 20, "EXTEN"),
    ("extension", 50, EXT),
    ("exten_context", 50, "default"),
    ("voicemail_ext", 10, None),
    ("phone", 100, None),
    ("server_ip", 15, None),
    ("user", 20, None),
    ("user_unavailable_action", 20, "VOICEMAIL"),
    ("user_route_settings_ingroup", 20, "AGENTDIRECT"),
    ("group_id", 20, None),
    ("call_handle_method", 20, "CID"),
    ("agent_search_method", 2, "LB"),
    ("list_id", 14, "999"),
    ("campaign_id", 8, None),
    ("phone_code", 10, "1"),
    ("menu_id", 50, ""),
    ("record_call", 20, "N"),
    ("filter_inbound_number", 20, "DISABLED"),
    ("filter_phone_group_id", 20, ""),
    ("filter_url", 1000, ""),
    ("filter_action", 20, "EXTEN"),
    ("filter_extension", 50, EXT),
    ("filter_exten_context", 50, "default"),
    ("filter_voicemail_ext", 10, None),
    ("filter_phone", 100, None),
    ("filter_server_ip", 15, None),
    ("filter_user", 20, None),
    ("filter_user_unavailable_action", 20, "VOICEMAIL"),
    ("filter_user_route_settings_ingroup", 20, "AGENTDIRECT"),
    ("filter_group_id", 20, None),
    ("filter_call_handle_method", 20, "CID"),
    ("filter_agent_search_method", 2, "LB"),
    ("filter_list_id", 14, "999"),
    ("filter_campaign_id", 8, None),
    ("filter_phone_code", 10, "1"),
    ("filter_menu_id", 50, ""),
    ("filter_clean_cid_number", 20, ""),
    ("custom_one", 100, ""),
    ("custom_two", 100, ""),
    ("custom_three", 100, ""),
    ("custom_four", 100, ""),
    ("custom_five", 100, ""),
    ("user_group", 20, "---ALL---"),
    ("filter_dnc_campaign", 8, ""),
    ("filter_url_did_redirect", 1, "N"),
    ("no_agent_ingroup_redirect", 20, "DISABLED"),
    ("no_agent_ingroup_id", 20, ""),
    ("no_agent_ingroup_extension", 50, EXT),
    ("pre_filter_phone_group_id", 20, ""),
    ("pre_filter_extension", 50, ""),
    ("entry_list_id", 14, "0"),
    ("filter_entry_list_id", 14, "0"),
    ("max_queue_ingroup_calls", 5, "0"),
    ("max_queue_ingroup_id", 20, ""),
    ("max_queue_ingroup_extension", 50, EXT),
    ("did_carrier_description", 255, ""),
    ("inbound_route_answer", 3, "Y"),
    ("pre_filter_recent_call", 20, ""),
    ("pre_filter_recent_extension", 50, ""),
)

inbound_dids = sa.Table(
    "vicidial_inbound_dids",
    metadata,
    sa.Column("did_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("did_pattern", sa.String(50), nullable=False, unique=True),
    *(_s(name, length, default) for name, length, default in DID_COLUMNS),
)

users = sa.Table(
    "vicidial_users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(20), nullable=False, unique=True),
    _s("pass", 100, ""),
    _s("pass_hash", 500, ""),
    _s("full_name", 50, ""),
    _i("user_level", 1),
    _s("user_group", 20, ""),
    _s("active", 1, "Y"),
    _s("vdc_agent_api_access", 1, "0"),
    _s("modify_inbound_dids", 1, "0"),
    _s("delete_inbound_dids", 1, "0"),
    _s("api_allowed_functions", 1000, " ALL_FUNCTIONS "),
    _s("api_only_user", 1, "0"),
    _i("failed_login_count"),
    sa.Column("last_login_date", sa.DateTime, nullable=True),
    _s("last_ip", 50, ""),
    _s("ignore_ip_list", 1, "0"),
    _i("failed_login_attempts_today"),
    _i("failed_login_count_today"),
    _s("failed_last_ip_today", 50, ""),
    _s("failed_last_type_today", 20, ""),
)

user_groups = sa.Table(
    "vicidial_user_groups",
    metadata,
    sa.Column("user_group", sa.String(20), primary_key=True),
    _s("group_name", 40, ""),
    _s("allowed_campaigns", 2000, " -ALL-CAMPAIGNS- "),
    _s("admin_viewable_groups", 2000, " ---ALL--- "),
    _s("api_ip_list", 30, ""),
)

inbound_groups = sa.Table(
    "vicidial_inbound_groups",
    metadata,
    sa.Column("group_id", sa.String(20), primary_key=True),
    _s("group_name", 30, ""),
)

call_menus = sa.Table(
    "vicidial_call_menu",
    metadata,
    sa.Column("menu_id", sa.String(50), primary_key=True),
    _s("menu_name", 100, ""),
)

servers = sa.Table(
    "servers",
    metadata,
    sa.Column("server_id", sa.String(10), primary_key=True),
    _s("server_description", 255, ""),
    _s("server_ip", 15, ""),
    _s("active", 1, "Y"),
    _s("local_gmt", 6, "-5.00"),
)

system_settings = sa.Table(
    "system_settings",
    metadata,
    sa.Column("version", sa.String(50), server_default=sa.text("'2.14-194'")),
    _i("pass_hash_enabled"),
    _s("pass_key", 100, ""),
    _i("pass_cost", 2),
    _i("allow_ip_lists"),
    _s("system_ip_blacklist", 30, ""),
)

api_log = sa.Table(
    "vicidial_api_log",
    metadata,
    sa.Column("api_id", sa.Integer, primary_key=True, autoincrement=True),
    _s("user", 20, ""),
    sa.Column("api_date", sa.DateTime),
    _s("api_script", 10, ""),
    _s("function", 20, ""),
    _s("agent_user", 20, ""),
    _s("value", 255, ""),
    _s("result", 10, ""),
    _s("result_reason", 255, ""),
    _s("source", 20, ""),
    sa.Column("data", sa.Text),
    _s("run_time", 20, "0"),
    _i("webserver"),
    _i("api_url"),
)

api_urls = sa.Table(
    "vicidial_api_urls",
    metadata,
    sa.Column("api_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("api_date", sa.DateTime),
    _s("remote_ip", 50, ""),
    sa.Column("url", MEDIUM_TEXT),
)

admin_log = sa.Table(
    "vicidial_admin_log",
    metadata,
    sa.Column("admin_log_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_date", sa.DateTime, nullable=False),
    _s("user", 20, ""),
    _s("ip_address", 50, ""),
    _s("event_section", 30, ""),
    _s("event_type", 20, "OTHER"),
    _s("record_id", 50, ""),
    _s("event_code", 255, ""),
    sa.Column("event_sql", MEDIUM_TEXT),
    sa.Column("event_notes", MEDIUM_TEXT),
    _s("user_group", 20, ""),
)

ip_lists = sa.Table(
    "vicidial_ip_lists",
    metadata,
    sa.Column("ip_list_id", sa.String(30), primary_key=True),
    _s("ip_list_name", 100, ""),
    _s("active", 1, "N"),
    _s("user_group", 20, "---ALL---"),
)

ip_list_entries = sa.Table(
    "vicidial_ip_list_entries",
    metadata,
    _s("ip_list_id", 30, ""),
    _s("ip_address", 45, ""),
    sa.Index("ip_list_entry", "ip_list_id", "ip_address", unique=True),
)

# vicidid's own tables: the only ones it may add to an existing VICIdial database.
idempotency = sa.Table(
    "vicidid_idempotency",
    metadata,
    sa.Column("idem_key", sa.String(100), primary_key=True),
    sa.Column("user", sa.String(20), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("content_type", sa.String(60), nullable=False),
    # A bulk copy's answer runs to megabytes; utf8mb4 whatever the database's default, so
    # that any answer is stored exactly as it was sent.
    sa.Column(
        "body",
        sa.Text().with_variant(mysql.MEDIUMTEXT(charset="utf8mb4"), "mysql", "mariadb"),
        nullable=False,
    ),
    sa.Column("created", sa.DateTime, nullable=False),
    sa.Index("vicidid_idempotency_created", "created"),  # expired keys are purged by date
)

# Failed logins per client address (auth/throttle.py), shared by every worker and server
# on the database; a window is whole seconds since the epoch, so that clocks need no zone.
login_throttle = sa.Table(
    "vicidid_login_throttle",
    metadata,
    sa.Column("address", sa.String(45), primary_key=True),  # IPv4, or an IPv6 /64
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Index("vicidid_login_throttle_window", "window_start"),  # expired windows purged
)

VICIDIAL_TABLES = tuple(t for t in metadata.sorted_tables if not t.name.startswith("vicidid_"))

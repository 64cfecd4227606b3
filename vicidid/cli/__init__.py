"""Operations: the `vicidid` command (main, in commands), its commands by kind (db_commands,
serve, admin_commands, did_commands, did_import), the user/group administration under them
(admin), the demo data (demo) and bulk copies from CSV or ranges (bulk).
"""

from vicidid.cli.commands import main

__all__ = ["main"]

"""Operations: the `vicidid` command (main), its user/group/DID administration (admin), the
demo data (demo) and bulk copies from CSV or ranges (bulk, did_import).
"""

from vicidid.cli.commands import main

__all__ = ["main"]

"""`vicidid setup --undo`: everything setup changed put back, from its record.

A file still as setup wrote it is removed, or its original put back. A file changed since
is left as it is and named, except a web-server file setup added one marked line to: that
line is taken out, the rest kept.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vicidid.cli.setup_apply import USER, Record, Say, digest, run
from vicidid.cli.setup_plan import MARK, under

WOULD = {"remove": "remove", "restore": "restore", "clean": "take setup's lines out of"}
DONE = {"remove": "removed", "restore": "restored", "clean": "cleaned"}


def undo_files(root: Path, record: Record, dry_run: bool, say: Say) -> int:
    """Each recorded file put back; the count changed."""
    changed = 0
    for logical, entry in reversed(list(record.files.items())):
        target = under(root, logical)
        backup = Path(entry["backup"]) if entry.get("backup") else None
        action = _undo_one(target, entry, backup)
        if action is None:
            say(f"left as is {logical} (changed since setup)")
            continue
        if action == "gone":
            say(f"unchanged  {logical} (already gone)")
            continue
        changed += 1
        if dry_run:
            say(f"would {WOULD[action]} {logical}")
            continue
        if action == "remove":
            target.unlink()
        elif action == "restore" and backup is not None:
            if target.exists() or target.is_symlink():
                target.unlink()
            shutil.copy2(backup, target, follow_symlinks=False)
            if entry.get("mode") is not None:
                target.chmod(int(entry["mode"]))
        else:  # take out the marked lines
            kept = [line for line in target.read_text().splitlines(True) if MARK not in line]
            target.write_text("".join(kept))
        del record.files[logical]
        record.save()
        say(f"{DONE[action]:<10} {logical}")
    return changed


def _undo_one(target: Path, entry: dict[str, object], backup: Path | None) -> str | None:
    """remove, restore, clean (its marked lines out), gone, or None (changed since)."""
    if not (target.exists() or target.is_symlink()):
        return "restore" if backup is not None else "gone"
    link = str(entry.get("link") or "")
    if link:
        ours = target.is_symlink() and str(target.readlink()) == link
    else:
        ours = target.is_file() and digest(target.read_bytes()) == entry.get("sha256")
    if ours:
        return "restore" if backup is not None else "remove"
    if backup is not None and target.is_file() and MARK in target.read_text():
        return "clean"
    return None


def remove_user(record: Record, dry_run: bool, say: Say) -> None:
    if not record.data.get("user_created"):
        return
    if dry_run:
        say(f"would run  userdel {USER}")
        return
    run(["userdel", USER], say)
    record.data["user_created"] = False
    record.save()


def forget(record: Record, say: Say) -> None:
    """The record and its backups, once everything is back."""
    if record.files:
        say(f"kept       {record.path} (files above were left as they are)")
        return
    shutil.rmtree(record.backups, ignore_errors=True)
    record.path.unlink(missing_ok=True)

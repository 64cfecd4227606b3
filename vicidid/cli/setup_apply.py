"""`vicidid setup` carried out: files written with a record, services, the end-to-end
checks, and `--undo` from the record.

The record (/var/lib/vicidid/setup.json, root only) lists each file setup wrote: whether it
was there before (its original then kept beside the record, root only, for undo), and
the SHA-256 of what setup wrote, so that undo puts back only what is still as setup left
it. It never holds the password: the environment file appears only by its digest.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from vicidid.about import API_PATH
from vicidid.cli.setup_plan import KEEP_MODE, RECORD_PATH, File, Options, Plan, under
from vicidid.errors import SetupError
from vicidid.store.db import safe_url
from vicidid.web.settings import SETTINGS

USER = "vicidid"
USERADD = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]
Say = Callable[[str], None]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Record:
    def __init__(self, root: Path) -> None:
        self.path = under(root, RECORD_PATH)
        self.backups = self.path.with_name("setup-backup")
        self.data: dict[str, Any] = {"files": {}, "user_created": False}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
                self.data["files"].items()
            except (ValueError, KeyError, TypeError, AttributeError):
                raise SetupError(f"{self.path} is not setup's record: move it away") from None

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.data["files"]  # type: ignore[no-any-return]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def backup(self, logical: str, source: Path) -> str:
        """Keep the original beside the record (root only); its path in the record."""
        copy = self.backups / logical.lstrip("/")
        copy.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.backups.chmod(0o700)
        shutil.copy2(source, copy, follow_symlinks=False)
        if not copy.is_symlink():
            copy.chmod(0o600)
        return str(copy)


def is_current(target: Path, file: File) -> bool:
    if file.link:
        return target.is_symlink() and str(target.readlink()) == file.link
    return (
        target.is_file()
        and not target.is_symlink()
        and target.read_bytes() == file.content.encode()
        and file.mode in (KEEP_MODE, target.stat().st_mode & 0o777)
    )


_DB = SETTINGS["db_url"].env  # the environment file's line that holds the password


def shown(file: File, before: str | None) -> list[str]:
    """What a dry run shows of a change: the new content, or a diff; no password."""
    if file.link:
        return [f"    -> {file.link}"]
    text = file.content
    if file.secret:  # the URL without its password
        text = "\n".join(
            f"{_DB}={safe_url(line[len(_DB) + 1 :])}" if line.startswith(f"{_DB}=") else line
            for line in text.splitlines()
        )
        return ["    " + line for line in text.splitlines()]
    if before is None:
        return ["    " + line for line in text.splitlines()]
    diff = difflib.unified_diff(before.splitlines(), text.splitlines(), lineterm="", n=1)
    return ["    " + line for line in list(diff)[2:]]


def write_files(plan: Plan, options: Options, record: Record, dry_run: bool, say: Say) -> int:
    """Each file written unless already as wanted; the count of files changed."""
    changed = 0
    for file in plan.files:
        target = under(options.root, file.path)
        mode = "link" if file.link else "edit" if file.mode == KEEP_MODE else f"mode {file.mode:o}"
        if is_current(target, file):
            say(f"unchanged  {file.path} ({mode})")
            continue
        there = target.exists() or target.is_symlink()
        verb = "replace" if there else "create"
        changed += 1
        if dry_run:
            before = None if file.secret or not target.is_file() else target.read_text()
            say(f"would {verb} {file.path} ({mode})")
            for line in shown(file, before):
                say(line)
            continue
        entry = record.files.get(file.path)
        if entry is None:
            backup = record.backup(file.path, target) if there else None
            entry = {"existed": there, "backup": backup}
            if there and not target.is_symlink():
                entry["mode"] = target.stat().st_mode & 0o777  # the backup's is 600
            record.files[file.path] = entry
        _write(target, file)
        entry["link"] = file.link
        entry["sha256"] = "" if file.link else digest(file.content.encode())
        record.save()
        say(f"{verb + 'd':<10} {file.path} ({mode})")
    return changed


def _write(target: Path, file: File) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if file.secret:
        target.parent.chmod(0o700)
    if target.is_symlink() or (file.link and target.exists()):
        target.unlink()
    if file.link:
        target.symlink_to(file.link)
        return
    mode = file.mode
    if mode == KEEP_MODE:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    tmp = target.with_name(f".{target.name}.vicidid-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(file.content)
    tmp.chmod(mode)
    tmp.replace(target)


def create_user(record: Record, dry_run: bool, say: Say) -> None:
    try:
        pwd.getpwnam(USER)
        say(f"unchanged  system user {USER}")
        return
    except KeyError:
        pass
    if dry_run:
        say("would run  " + " ".join(USERADD))
        return
    run(USERADD, say)
    record.data["user_created"] = True
    record.save()


def run(command: list[str], say: Say, env: dict[str, str] | None = None) -> None:
    say("run        " + " ".join(command))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SetupError(f"{command[0]} could not run: {error}") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SetupError(f"`{' '.join(command)}` failed ({done.returncode}): {last[0]}")


def service_command(command: str, action: str, root: Path, say: Say) -> None:
    """--service-command: (re)starts vicidid and reloads the web server instead of systemctl."""
    env = dict(os.environ, VICIDID_SETUP=action, VICIDID_SETUP_ROOT=str(root))
    run(["sh", "-c", command], say, env)


def check(public_url: str, timeout: float) -> list[tuple[bool, str]]:
    """Through the web server: version answered by vicidid, a non-DID function by PHP."""
    url = public_url.rstrip("/") + API_PATH
    deadline = time.monotonic() + timeout
    first = ""
    with httpx.Client(timeout=10) as client:
        while True:
            try:
                answer = client.get(url, params={"function": "version"})
                first = answer.text.strip().splitlines()[0] if answer.text.strip() else ""
                if "BUILD: vicidid" in answer.text:
                    break
                first = f"HTTP {answer.status_code} {first[:80]}"
            except httpx.HTTPError as error:
                first = f"no answer ({type(error).__name__})"
            if time.monotonic() > deadline:
                return [(False, f"function=version at {url}: not vicidid's answer: {first}")]
            time.sleep(0.3)
        results = [(True, f"function=version at {url} answered by vicidid: {first[:60]}")]
        try:
            other = client.get(url, params={"function": "add_lead"})
        except httpx.HTTPError as error:
            return [*results, (False, f"function=add_lead: no answer ({type(error).__name__})")]
    text = other.text.strip()
    line = text.splitlines()[0][:80] if text else ""
    ours = ("FALLBACK", "NO FUNCTION SPECIFIED", "UNKNOWN FUNCTION", "BUILD: vicidid")
    if other.status_code >= 500 or any(word in text for word in ours):
        return [
            *results,
            (False, f"function=add_lead not answered by PHP: HTTP {other.status_code} {line}"),
        ]
    return [*results, (True, f"function=add_lead passed on to PHP, which answered: {line}")]

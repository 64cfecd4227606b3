"""Debian packages a script of the project needs, installed when missing (as scripts/test
installs its own)."""

from __future__ import annotations

import os
import shutil
import subprocess


class AptError(Exception):
    """A package could not be installed; the message says why."""


def apt_install(package: str, command: str) -> str:
    """The path of `command` (a name on PATH, or an absolute path), installing Debian's
    `package` first when it is missing."""
    found = _found(command)
    if found:
        return found
    if not shutil.which("apt-get"):
        raise AptError(f"{command} is missing and apt-get is not here to install {package}")
    # another apt-get may hold the lock for a while: wait for it rather than fail
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq", package]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        done = subprocess.run(install, capture_output=True, text=True)
        if done.returncode != 0:
            raise AptError(f"apt-get install {package} failed: {done.stderr.strip()[-300:]}")
    found = _found(command)
    if not found:
        raise AptError(f"{package} installed but {command} not found")
    return found


def _found(command: str) -> str | None:
    if os.path.isabs(command):
        return command if os.path.exists(command) else None
    return shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")

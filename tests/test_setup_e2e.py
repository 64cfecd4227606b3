"""`vicidid setup` end to end in a scratch root: VICIdial's schema on the real MariaDB, a
real nginx (Debian's package) in front, PHP from Debian's php-fpm behind it.

The scratch root holds what a VICIdial server holds: /etc/astguiclient.conf, an nginx
site that passes PHP to php-fpm, and VICIdial's web root. non_agent_api.php there is a
STAND-IN for VICIdial's (a few lines of PHP, below), run by the real php-fpm: the test
only needs to tell PHP's answer from vicidid's. systemd is replaced by --service-command,
a small script (SERVICE, below) that starts what the written unit's ExecStart says with
the written environment file, and reloads nginx.

scripts/test installs nginx and php-fpm; run alone, the test installs them with apt-get,
and skips saying why only where apt-get is not there (never under CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.test_existing_vicidial import load_vicidial
from vicidid.cli import main

pytestmark = pytest.mark.mariadb

PHP_STAND_IN = """<?php
// A STAND-IN for VICIdial's non_agent_api.php, for tests only: it answers every function
// with one line naming it, so the test can tell PHP's answer from vicidid's.
header('Content-Type: text/plain');
$function = isset($_REQUEST['function']) ? $_REQUEST['function'] : '';
echo "ERROR: $function ANSWERED BY THE PHP STAND-IN|\\n";
"""

# systemd's part, for a scratch root: run by `vicidid setup --service-command`
SERVICE = r"""
import os, shlex, signal, subprocess, sys, time
from pathlib import Path

root = Path(os.environ["VICIDID_SETUP_ROOT"])
pidfile = root / "vicidid.pid"
if pidfile.exists():  # stop the one started before, and wait until it is gone
    group = int(pidfile.read_text())
    pidfile.unlink()
    try:
        os.killpg(group, signal.SIGTERM)
        for _ in range(300):
            time.sleep(0.1)
            os.killpg(group, 0)
    except ProcessLookupError:
        pass
if os.environ["VICIDID_SETUP"] == "apply":
    unit = (root / "etc/systemd/system/vicidid.service").read_text().splitlines()
    env = {"PATH": os.environ["PATH"]}
    for line in (root / "etc/vicidid/env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    for line in unit:
        if line.startswith("Environment="):
            key, value = line[len("Environment="):].split("=", 1)
            env[key] = value
    command = next(l for l in unit if l.startswith("ExecStart="))[len("ExecStart="):]
    log = open(root / "vicidid.log", "ab")
    child = subprocess.Popen(shlex.split(command), env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True)
    pidfile.write_text(str(child.pid))
nginx = ["nginx", "-p", str(root), "-c", str(root / "etc/nginx/nginx.conf"), "-e",
         str(root / "nginx-error.log")]
subprocess.run(nginx + ["-t", "-q"], check=True)
subprocess.run(nginx + ["-s", "reload"], check=True)
"""


def installed(package: str, find: Callable[[], str | None]) -> str:
    """The program find() looks for, installing Debian's package when it is missing."""
    found = find()
    if found:
        return found
    if not shutil.which("apt-get"):
        reason = f"{package} is not installed and apt-get is not there to install it"
        if os.environ.get("VICIDID_REQUIRE_MARIADB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    install = ["apt-get", "install", "-y", "-qq", package]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=False)
    found = find()
    if not found:
        pytest.fail(f"apt-get could not install {package}")
    return found


def php_fpm_program() -> str | None:
    found = sorted(Path("/usr/sbin").glob("php-fpm*"))
    return str(found[-1]) if found else None


def free_ports(count: int) -> list[int]:
    """Ports of 18100-18199 nobody listens on."""
    found = []
    for port in range(18100 + (os.getpid() % 40), 18200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    pytest.skip("no free ports in 18100-18199")


def wait_port(port: int, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port}")


def make_root(root: Path, db: str, public: int, fpm: int) -> None:
    """What a VICIdial server running nginx and php-fpm holds, under root."""
    (root / "etc").mkdir(parents=True)
    (root / "etc/astguiclient.conf").write_text(
        "# astguiclient.conf as VICIdial's installer writes it\n"
        "PATHhome => /usr/share/astguiclient\n"
        f"PATHweb => {root / 'var/www/html'}\n"
        "VARserver_ip => 127.0.0.1\n"
        "VARDB_server => 127.0.0.1\n"
        f"VARDB_database => {db}\n"
        "VARDB_user => root\n"
        "VARDB_pass => \n"
        "VARDB_custom_user => custom\n"
        "VARDB_port => 3306\n"
    )
    shutil.copytree("/etc/nginx", root / "etc/nginx", symlinks=True)
    conf = (root / "etc/nginx/nginx.conf").read_text()
    conf = conf.replace("/etc/nginx/", f"{root}/etc/nginx/").replace("user www-data;", "")
    conf = conf.replace("/run/nginx.pid", str(root / "nginx.pid"))
    conf = conf.replace("/var/log/nginx/", f"{root}/")
    (root / "etc/nginx/nginx.conf").write_text(conf)
    for site in (root / "etc/nginx/sites-enabled").iterdir():
        site.unlink()  # Debian's default site listens on port 80
    (root / "etc/nginx/sites-available/vicidial").write_text(
        "server {\n"
        f"    listen 127.0.0.1:{public};\n"
        f"    root {root / 'var/www/html'};\n"
        "    index index.php index.html;\n"
        "    location ~ \\.php$ {\n"
        "        include fastcgi_params;\n"
        "        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
        f"        fastcgi_pass 127.0.0.1:{fpm};\n"
        "    }\n"
        "}\n"
    )
    # linked as a2ensite would, but relative: nginx itself follows it here
    (root / "etc/nginx/sites-enabled/vicidial").symlink_to("../sites-available/vicidial")
    (root / "var/www/html/vicidial").mkdir(parents=True)
    (root / "var/www/html/vicidial/non_agent_api.php").write_text(PHP_STAND_IN)
    (root / "php-fpm.conf").write_text(
        f"[global]\npid = {root / 'php-fpm.pid'}\nerror_log = {root / 'php-fpm.log'}\n"
        "daemonize = no\n[www]\nuser = root\ngroup = root\n"
        f"listen = 127.0.0.1:{fpm}\npm = static\npm.max_children = 2\n"
    )
    (root / "service.py").write_text(SERVICE)


@pytest.fixture
def scratch(tmp_path, mariadb_url) -> Iterator[tuple[Path, str, list[int]]]:
    """The scratch root with nginx and php-fpm running; vicidid is setup's to start."""
    nginx = installed("nginx", lambda: shutil.which("nginx"))
    fpm_bin = installed("php-fpm", php_fpm_program)
    load_vicidial(mariadb_url)
    root = tmp_path / "root"
    public, fpm, port, php_port = free_ports(4)
    make_root(root, sa.engine.make_url(mariadb_url).database or "", public, fpm)
    fpm_proc = subprocess.Popen(
        [fpm_bin, "-R", "-n", "-y", str(root / "php-fpm.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx_cmd = [nginx, "-p", str(root), "-c", str(root / "etc/nginx/nginx.conf")]
    nginx_cmd += ["-e", str(root / "nginx-error.log")]
    try:
        subprocess.run(nginx_cmd, check=True)
        wait_port(public, "nginx")
        wait_port(fpm, "php-fpm")
        yield root, mariadb_url, [public, port, php_port]
    finally:
        pidfile = root / "vicidid.pid"
        if pidfile.exists():
            with_pid = int(pidfile.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.killpg(with_pid, signal.SIGTERM)
        subprocess.run([*nginx_cmd, "-s", "stop"], check=False, capture_output=True)
        fpm_proc.terminate()
        fpm_proc.wait(timeout=10)


def run_setup(root: Path, ports: list[int], *extra: str) -> tuple[int, str]:
    public, port, php_port = ports
    args = ["setup", "--root", str(root), "--port", str(port), "--php-port", str(php_port)]
    args += ["--public-url", f"http://127.0.0.1:{public}", "--check-timeout", "40"]
    args += ["--service-command", f"{sys.executable} {root / 'service.py'}", *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_setup_then_again_then_undo(scratch) -> None:
    root, url, ports = scratch
    public = f"http://127.0.0.1:{ports[0]}/vicidial/non_agent_api.php"
    site = root / "etc/nginx/sites-available/vicidial"
    site_before = site.read_text()
    engine = sa.create_engine(url)
    tables_before = set(sa.inspect(engine).get_table_names())

    code, out = run_setup(root, ports)
    assert code == 0, out
    assert "ok:        function=version at" in out and "answered by vicidid" in out
    assert (
        "function=add_lead passed on to PHP, which answered: ERROR: add_lead ANSWERED BY "
        "THE PHP STAND-IN|" in out
    )
    env = root / "etc/vicidid/env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert f"VICIDID_FALLBACK_URL=http://127.0.0.1:{ports[2]}/vicidial/non_agent_api.php" in (
        env.read_text()
    )
    assert "include snippets/vicidid.conf;" in site.read_text()
    unit = (root / "etc/systemd/system/vicidid.service").read_text()
    assert f"--port {ports[1]}" in unit and "EnvironmentFile=/etc/vicidid/env" in unit
    # through nginx, as a script calls: version from vicidid, add_lead from PHP
    assert "BUILD: vicidid" in httpx.get(public, params={"function": "version"}).text
    posted = httpx.post(public, data={"function": "add_lead", "user": "x", "pass": "y"})
    assert posted.text.startswith("ERROR: add_lead ANSWERED BY THE PHP STAND-IN")
    assert "x-request-id" in posted.headers  # it went through vicidid to PHP
    # VICIdial's tables untouched, nothing added
    assert set(sa.inspect(engine).get_table_names()) == tables_before

    code, again = run_setup(root, ports)
    assert code == 0, again
    verbs = [line.split()[0] for line in again.splitlines() if line.startswith("/") is False]
    assert not {"created", "replaced", "would"} & set(verbs), again
    assert again.count("unchanged ") >= 5 and "done: 0 file(s) changed" in again

    code, undone = run_setup(root, ports, "--undo")
    assert code == 0, undone
    assert site.read_text() == site_before
    for gone in (
        "etc/vicidid/env",
        "etc/systemd/system/vicidid.service",
        "etc/nginx/snippets/vicidid.conf",
        "etc/nginx/conf.d/vicidid-php.conf",
        "var/lib/vicidid/setup.json",
    ):
        assert not (root / gone).exists(), gone
    # nginx reloaded without vicidid: the path is PHP's again
    deadline = time.monotonic() + 10
    while "STAND-IN" not in httpx.get(public, params={"function": "version"}).text:
        assert time.monotonic() < deadline, "nginx still sends the path to vicidid"
        time.sleep(0.2)
    engine.dispose()

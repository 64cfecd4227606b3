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
import tempfile
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
if (root / "etc/nginx").is_dir():
    nginx = ["nginx", "-p", str(root), "-c", str(root / "etc/nginx/nginx.conf"), "-e",
             str(root / "nginx-error.log")]
    subprocess.run(nginx + ["-t", "-q"], check=True)
    subprocess.run(nginx + ["-s", "reload"], check=True)
else:  # Debian's Apache: what `a2enmod proxy proxy_http` and a graceful reload do
    mods = root / "etc/apache2/mods-enabled"
    for name in ("proxy.load", "proxy.conf", "proxy_http.load"):
        if not (mods / name).exists():
            (mods / name).symlink_to("../mods-available/" + name)
    apache = ["apache2", "-d", str(root / "etc/apache2")]
    env = dict(os.environ, APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
               APACHE_PID_FILE=str(root / "apache2.pid"), APACHE_RUN_DIR=str(root / "run"),
               APACHE_LOCK_DIR=str(root / "run"), APACHE_LOG_DIR=str(root / "run"))
    subprocess.run(apache + ["-t"], check=True, env=env, capture_output=True)
    subprocess.run(apache + ["-k", "graceful"], check=True, env=env)
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


def make_root(root: Path, db: str, public: int, fpm: int, web: str) -> None:
    """What a VICIdial server running nginx or Apache, and php-fpm, holds under root."""
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
    (root / "var/www/html/vicidial").mkdir(parents=True)
    (root / "var/www/html/vicidial/non_agent_api.php").write_text(PHP_STAND_IN)
    (root / "php-fpm.conf").write_text(
        f"[global]\npid = {root / 'php-fpm.pid'}\nerror_log = {root / 'php-fpm.log'}\n"
        "daemonize = no\n[www]\nuser = root\ngroup = root\n"
        f"listen = 127.0.0.1:{fpm}\npm = static\npm.max_children = 2\n"
    )
    (root / "service.py").write_text(SERVICE)
    (nginx_tree if web == "nginx" else apache_tree)(root, public, fpm)


def nginx_tree(root: Path, public: int, fpm: int) -> None:
    """Debian's /etc/nginx, and a site passing PHP to php-fpm as a VICIdial one does."""
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


def apache_tree(root: Path, public: int, fpm: int) -> None:
    """Debian's /etc/apache2 on one port, PHP to php-fpm as Debian's php-fpm.conf does."""
    shutil.copytree("/etc/apache2", root / "etc/apache2", symlinks=True)
    (root / "run").mkdir()
    apache = root / "etc/apache2"
    (apache / "ports.conf").write_text(f"Listen 127.0.0.1:{public}\n")
    (apache / "sites-enabled/000-default.conf").unlink()
    (apache / "sites-available/vicidial.conf").write_text(
        f"<VirtualHost 127.0.0.1:{public}>\n    DocumentRoot {root / 'var/www/html'}\n"
        "</VirtualHost>\n"
    )
    (apache / "sites-enabled/vicidial.conf").symlink_to("../sites-available/vicidial.conf")
    (apache / "conf-available/php-fpm.conf").write_text(
        f'<FilesMatch "\\.php$">\n    SetHandler "proxy:fcgi://127.0.0.1:{fpm}"\n</FilesMatch>\n'
        f"<Directory {root / 'var/www/html'}>\n    Require all granted\n</Directory>\n"
    )
    (apache / "conf-enabled/php-fpm.conf").symlink_to("../conf-available/php-fpm.conf")
    for name in ("proxy.load", "proxy.conf", "proxy_fcgi.load"):
        if not (apache / "mods-enabled" / name).exists():
            (apache / "mods-enabled" / name).symlink_to("../mods-available/" + name)


def apache_env(root: Path) -> dict[str, str]:
    return dict(
        os.environ,
        APACHE_RUN_USER="www-data",
        APACHE_RUN_GROUP="www-data",
        APACHE_PID_FILE=str(root / "apache2.pid"),
        APACHE_RUN_DIR=str(root / "run"),
        APACHE_LOCK_DIR=str(root / "run"),
        APACHE_LOG_DIR=str(root / "run"),
    )


@pytest.fixture(params=["nginx", "apache"])
def scratch(request, mariadb_url) -> Iterator[tuple[Path, str, list[int]]]:
    """The scratch root with the web server and php-fpm running; vicidid is setup's to
    start. World-readable, as Apache's workers (www-data) look at the files."""
    web = request.param
    if web == "nginx":
        server = installed("nginx", lambda: shutil.which("nginx"))
    else:
        server = installed("apache2", lambda: shutil.which("apache2"))
    fpm_bin = installed("php-fpm", php_fpm_program)
    load_vicidial(mariadb_url)
    root = Path(tempfile.mkdtemp(prefix="vicidid-setup-"))
    root.chmod(0o755)
    public, fpm, port, php_port = free_ports(4)
    make_root(root, sa.engine.make_url(mariadb_url).database or "", public, fpm, web)
    fpm_proc = subprocess.Popen(
        [fpm_bin, "-R", "-n", "-y", str(root / "php-fpm.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if web == "nginx":
        start = [server, "-p", str(root), "-c", str(root / "etc/nginx/nginx.conf")]
        start += ["-e", str(root / "nginx-error.log")]
        stop, env = [*start, "-s", "stop"], None
    else:
        start = [server, "-d", str(root / "etc/apache2"), "-k", "start"]
        stop, env = [*start[:-1], "stop"], apache_env(root)
    try:
        subprocess.run(start, check=True, env=env)
        wait_port(public, web)
        wait_port(fpm, "php-fpm")
        yield root, mariadb_url, [public, port, php_port]
    finally:
        pidfile = root / "vicidid.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pidfile.read_text()), signal.SIGTERM)
        subprocess.run(stop, check=False, capture_output=True, env=env)
        fpm_proc.terminate()
        fpm_proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def snapshot(etc: Path) -> dict[str, str]:
    """Every file's text and every link's target under etc (modules aside: setup leaves
    Apache's proxy modules enabled)."""
    found = {}
    for path in sorted(etc.rglob("*")):
        if "mods-enabled" in path.parts:
            continue
        if path.is_symlink():
            found[str(path)] = "-> " + str(path.readlink())
        elif path.is_file():
            found[str(path)] = path.read_text(errors="replace")
    return found


def run_setup(root: Path, ports: list[int], *extra: str) -> tuple[int, str]:
    public, port, php_port = ports
    args = ["setup", "--root", str(root), "--port", str(port), "--php-port", str(php_port)]
    args += ["--public-url", f"http://127.0.0.1:{public}", "--check-timeout", "40"]
    args += ["--service-command", f"{sys.executable} {root / 'service.py'}", *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_setup_then_again_then_undo(scratch) -> None:
    """setup, run again (nothing changes, the checks pass), then --undo: /etc as before."""
    root, url, ports = scratch
    public = f"http://127.0.0.1:{ports[0]}/vicidial/non_agent_api.php"
    etc_before = snapshot(root / "etc")
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
    if (root / "etc/nginx").is_dir():
        site = root / "etc/nginx/sites-available/vicidial"
        assert "include snippets/vicidid.conf;" in site.read_text()
    else:
        assert (root / "etc/apache2/conf-enabled/vicidid.conf").is_symlink()
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
    written = int(out.split("done: ")[1].split(" ")[0])  # 5 for nginx, 4 for Apache
    assert written >= 4 and again.count("\nunchanged  /") == written
    assert "done: 0 file(s) changed" in again

    code, undone = run_setup(root, ports, "--undo")
    assert code == 0, undone
    assert snapshot(root / "etc") == etc_before
    assert not (root / "var/lib/vicidid/setup.json").exists()
    # nginx reloaded without vicidid: the path is PHP's again
    deadline = time.monotonic() + 10
    while "STAND-IN" not in httpx.get(public, params={"function": "version"}).text:
        assert time.monotonic() < deadline, "nginx still sends the path to vicidid"
        time.sleep(0.2)
    engine.dispose()

"""`vicidid setup`'s decisions (setup_plan.py) and its --dry-run, in scratch roots.

The run with a real nginx and php-fpm in front is tests/test_setup_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from tests.test_existing_vicidial import load_vicidial
from vicidid.cli import main
from vicidid.cli.setup_apply import shown
from vicidid.cli.setup_plan import (
    NGINX_INCLUDE,
    File,
    Options,
    include_in_php_servers,
    nginx_sites,
    plan,
    unit_file,
)
from vicidid.errors import PlanError
from vicidid.store.astguiclient import parse

ROOT = Path(__file__).parent.parent
CONFIG = parse(
    "VARDB_server => 10.0.0.5\nVARDB_database => asterisk\nVARDB_user => cron\n"
    "VARDB_pass => s3cret\nPATHweb => /srv/www/htdocs\n",
    "/etc/astguiclient.conf",
)
SITE = """server {
    listen 80 default_server;
    root /var/www/html;
    # server { a comment's brace is not a block
    location ~ \\.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:/run/php/php8.2-fpm.sock;
    }
}
server {
    listen 8888;  # no PHP here: left alone
    location / { return 404; }
}
"""


def test_the_include_goes_into_every_server_that_passes_php_once() -> None:
    edited, fastcgi = include_in_php_servers(SITE)
    assert fastcgi == "unix:/run/php/php8.2-fpm.sock"
    assert edited.count(NGINX_INCLUDE) == 1
    assert edited.startswith("server {\n    " + NGINX_INCLUDE + "\n    listen 80")
    assert include_in_php_servers(edited) == (edited, fastcgi)  # idempotent
    assert [line for line in edited.splitlines() if "vicidid" not in line] == SITE.splitlines()


def test_nginx_sites_follows_debians_absolute_links_inside_the_root(tmp_path) -> None:
    (tmp_path / "etc/nginx/sites-available").mkdir(parents=True)
    (tmp_path / "etc/nginx/sites-enabled").mkdir()
    (tmp_path / "etc/nginx/sites-available/default").write_text(SITE)
    (tmp_path / "etc/nginx/sites-enabled/default").symlink_to("/etc/nginx/sites-available/default")
    assert nginx_sites(tmp_path) == {"/etc/nginx/sites-available/default": SITE}


def test_the_unit_is_docs_vicidid_service_with_the_program_and_port() -> None:
    docs = (ROOT / "docs/vicidid.service").read_text()
    unit = unit_file(Options(port=18081, executable="/usr/local/bin/vicidid")).content
    assert len(docs.splitlines()) == len(unit.splitlines())
    pairs = zip(docs.splitlines(), unit.splitlines(), strict=True)
    changed = [(a, b) for a, b in pairs if a != b]
    assert len(changed) == 1
    assert changed[0][1] == (
        "ExecStart=/usr/local/bin/vicidid serve --host 127.0.0.1 --port 18081 --workers 2 "
        "--trusted-proxy 127.0.0.1 --log-format json"
    )


def nginx_root(tmp_path: Path) -> Path:
    (tmp_path / "etc/nginx/sites-enabled").mkdir(parents=True)
    (tmp_path / "etc/nginx/nginx.conf").write_text("")
    (tmp_path / "etc/nginx/sites-enabled/vicidial").write_text(SITE)
    return tmp_path


def test_nginx_plan(tmp_path) -> None:
    decided = plan(CONFIG, Options(root=nginx_root(tmp_path)), nginx_sites(tmp_path))
    files = {f.path: f for f in decided.files}
    assert list(files) == [
        "/etc/vicidid/env",
        "/etc/systemd/system/vicidid.service",
        "/etc/nginx/snippets/vicidid.conf",
        "/etc/nginx/sites-enabled/vicidial",
        "/etc/nginx/conf.d/vicidid-php.conf",
    ]
    env = files["/etc/vicidid/env"]
    assert env.mode == 0o600 and env.secret
    assert "VICIDID_DB=mysql://cron:s3cret@10.0.0.5:3306/asterisk\n" in env.content
    assert "VICIDID_FALLBACK_URL=http://127.0.0.1:8082/vicidial/non_agent_api.php" in env.content
    fallback = files["/etc/nginx/conf.d/vicidid-php.conf"].content
    assert "listen 127.0.0.1:8082;" in fallback and "root /srv/www/htdocs;" in fallback
    assert "fastcgi_pass unix:/run/php/php8.2-fpm.sock;" in fallback
    assert "vicidid.conf" not in fallback.replace("# ", "")  # the fallback never includes it
    location = files["/etc/nginx/snippets/vicidid.conf"].content
    assert "location = /vicidial/non_agent_api.php {" in location
    assert "proxy_pass http://127.0.0.1:8081;" in location
    assert decided.reload == [["nginx", "-t"], ["systemctl", "reload", "nginx"]]


def test_nginx_without_a_php_server_is_one_clear_line(tmp_path) -> None:
    nginx_root(tmp_path)
    (tmp_path / "etc/nginx/sites-enabled/vicidial").write_text("server { listen 80; }\n")
    with pytest.raises(PlanError, match="no nginx server block passes PHP on"):
        plan(CONFIG, Options(root=tmp_path), nginx_sites(tmp_path))


def test_nginx_already_routing_the_path_by_hand_is_one_clear_line(tmp_path) -> None:
    nginx_root(tmp_path)
    by_hand = SITE.replace(
        "    root /var/www/html;\n",
        "    root /var/www/html;\n    location = /vicidial/non_agent_api.php { proxy_pass x; }\n",
    )
    (tmp_path / "etc/nginx/sites-enabled/vicidial").write_text(by_hand)
    with pytest.raises(PlanError) as error:
        plan(CONFIG, Options(root=tmp_path), nginx_sites(tmp_path))
    assert str(error.value) == (
        "/etc/nginx/sites-enabled/vicidial already has a location for "
        "/vicidial/non_agent_api.php (set up by hand?): take it out, then run setup again"
    )


@pytest.mark.parametrize(
    ("layout", "path"),
    [
        ("etc/apache2/conf-available", "/etc/apache2/conf-available/vicidid.conf"),
        ("etc/apache2/conf.d", "/etc/apache2/conf.d/vicidid.conf"),  # ViciBox
    ],
)
def test_apache_plan(tmp_path, layout: str, path: str) -> None:
    (tmp_path / layout).mkdir(parents=True)
    decided = plan(CONFIG, Options(root=tmp_path, port=9001, php_port=9002), {})
    files = {f.path: f for f in decided.files}
    text = files[path].content
    assert (
        '<Location "/vicidial/non_agent_api.php">\n'
        '    ProxyPass "http://127.0.0.1:9001/vicidial/non_agent_api.php"\n'
        '    ProxyPassReverse "http://127.0.0.1:9001/vicidial/non_agent_api.php"\n'
        "</Location>\n" in text
    )
    assert "Listen 127.0.0.1:9002\n<VirtualHost 127.0.0.1:9002>" in text
    assert (
        "    DocumentRoot /srv/www/htdocs\n"
        '    <Location "/vicidial/non_agent_api.php">\n'
        '        ProxyPass "!"\n'
        "    </Location>\n</VirtualHost>\n" in text
    )
    if "conf-available" in layout:
        link = files["/etc/apache2/conf-enabled/vicidid.conf"]
        assert link.link == "../conf-available/vicidid.conf"
        assert decided.reload[0] == ["a2enmod", "-q", "proxy", "proxy_http"]
    else:
        assert decided.reload[:2] == [["a2enmod", "proxy"], ["a2enmod", "proxy_http"]]


def test_both_web_servers_or_none(tmp_path) -> None:
    with pytest.raises(PlanError, match="no nginx or Apache configuration under"):
        plan(CONFIG, Options(root=tmp_path), {})
    nginx_root(tmp_path)
    (tmp_path / "etc/apache2/conf-available").mkdir(parents=True)
    with pytest.raises(PlanError, match="choose with --web-server"):
        plan(CONFIG, Options(root=tmp_path), nginx_sites(tmp_path))
    assert plan(CONFIG, Options(root=tmp_path, web_server="apache"), {}).web_server == (
        "apache-debian"
    )


def test_a_dry_run_never_shows_the_password() -> None:
    env = File("/etc/vicidid/env", "VICIDID_DB=mysql://cron:s3cret@h/db\nX=1\n", 0o600, True)
    assert shown(env, None) == ["    VICIDID_DB=mysql://cron:***@h/db", "    X=1"]


@pytest.mark.parametrize(
    "fallback",
    [
        "http://127.0.0.1/vicidial/non_agent_api.php",  # the public path: back to vicidid
        "http://127.0.0.1:8081/vicidial/non_agent_api.php",  # vicidid itself
    ],
)
def test_a_fallback_that_would_loop_is_refused(tmp_path, fallback: str) -> None:
    result = CliRunner().invoke(
        main, ["setup", "--root", str(tmp_path), "--dry-run", "--fallback-url", fallback]
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: --fallback-url {fallback} leads back to vicidid")


def test_undo_without_a_record(tmp_path) -> None:
    result = CliRunner().invoke(main, ["setup", "--root", str(tmp_path), "--undo"])
    assert result.exit_code == 0
    assert result.output == f"nothing to undo: no record at {tmp_path}/var/lib/vicidid/setup.json\n"


def test_a_record_that_is_not_setups_is_one_line(tmp_path) -> None:
    record = tmp_path / "var/lib/vicidid/setup.json"
    record.parent.mkdir(parents=True)
    record.write_text("[not json")
    result = CliRunner().invoke(main, ["setup", "--root", str(tmp_path), "--undo"])
    assert result.exit_code == 1
    assert result.output == f"Error: {record} is not setup's record: move it away\n"


def test_setup_without_astguiclient_conf(tmp_path) -> None:
    result = CliRunner().invoke(main, ["setup", "--root", str(tmp_path), "--dry-run"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot read {tmp_path}/etc/astguiclient.conf: No such file or directory\n"
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.mariadb
def test_dry_run_shows_every_change_and_changes_nothing(tmp_path, mariadb_url) -> None:
    load_vicidial(mariadb_url)
    url = make_url(mariadb_url)
    root = nginx_root(tmp_path)
    (root / "etc/astguiclient.conf").write_text(
        f"VARDB_server => {url.host}\nVARDB_database => {url.database}\n"
        f"VARDB_user => {url.username}\nVARDB_pass => {url.password or ''}\n"
        "PATHweb => /var/www/html\n"
    )
    before = snapshot(root)
    result = CliRunner().invoke(main, ["setup", "--root", str(root), "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert snapshot(root) == before
    assert f"database: mysql://{url.username}@{url.host}:3306/{url.database}" in out
    assert f"    GRANT SELECT ON `{url.database}`.* TO '{url.username}'@'localhost';" in out
    assert "system user vicidid: not created (scratch root)" in out
    for line in [
        "would create /etc/vicidid/env (mode 600)",
        "would create /etc/systemd/system/vicidid.service (mode 644)",
        "would create /etc/nginx/snippets/vicidid.conf (mode 644)",
        "would replace /etc/nginx/sites-enabled/vicidial (edit)",
        f"    +    {NGINX_INCLUDE}",
        "would create /etc/nginx/conf.d/vicidid-php.conf (mode 644)",
        "    VICIDID_FALLBACK_URL=http://127.0.0.1:8082/vicidial/non_agent_api.php",
        "services: not started in a scratch root (give --service-command); no check",
        "dry run: 5 file(s) would change; nothing was changed",
    ]:
        assert line in out.splitlines(), line


@pytest.mark.mariadb
def test_setup_and_undo_in_a_scratch_root_put_back_what_was_there(tmp_path, mariadb_url) -> None:
    """No services: the files, their modes, the record; undo restores a file that was there
    before, and leaves one changed since setup wrote it."""
    load_vicidial(mariadb_url)
    url = make_url(mariadb_url)
    root = nginx_root(tmp_path)
    (root / "etc/astguiclient.conf").write_text(
        f"VARDB_server => {url.host}\nVARDB_database => {url.database}\n"
        f"VARDB_user => {url.username}\nVARDB_pass => {url.password or ''}\n"
    )
    old_env = root / "etc/vicidid/env"
    old_env.parent.mkdir(parents=True)
    old_env.write_text("VICIDID_DB=mysql://by:hand@db/asterisk\n")
    old_env.chmod(0o640)
    before = snapshot(root)
    setup = ["setup", "--root", str(root)]
    result = CliRunner().invoke(main, setup)
    assert result.exit_code == 0, result.output
    assert "replaced   /etc/vicidid/env (mode 600)" in result.output.splitlines()
    assert result.output.endswith("done: 5 file(s) changed, nothing started or checked\n")
    assert (old_env.stat().st_mode & 0o777) == 0o600
    record = (root / "var/lib/vicidid/setup.json").read_text()
    assert "by:hand" not in record and "VICIDID_DB" not in record  # no URL, no password
    assert (root / "var/lib/vicidid/setup.json").stat().st_mode & 0o777 == 0o600
    snippet = root / "etc/nginx/snippets/vicidid.conf"
    snippet.write_text(snippet.read_text() + "# changed by hand\n")

    undone = CliRunner().invoke(main, [*setup, "--undo"])
    assert undone.exit_code == 0, undone.output
    lines = undone.output.splitlines()
    assert "restored   /etc/vicidid/env" in lines
    assert "left as is /etc/nginx/snippets/vicidid.conf (changed since setup)" in lines
    assert old_env.read_text() == "VICIDID_DB=mysql://by:hand@db/asterisk\n"
    assert (old_env.stat().st_mode & 0o777) == 0o640
    after = snapshot(root)
    kept = {str(snippet), str(root / "var/lib/vicidid/setup.json")}
    assert {k: v for k, v in after.items() if k not in kept and "setup-backup" not in k} == before
    assert (root / "var/lib/vicidid/setup.json").exists()  # kept: one file was left

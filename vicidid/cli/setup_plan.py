"""What `vicidid setup` writes and runs, decided without touching anything.

`plan` takes VICIdial's config, the options and what the web server's files say, and
gives back the files (each with its content and mode) and the commands; setup_apply.py
carries them out, keeps the record and undoes them.

The fallback never loops back to vicidid: the path goes to vicidid only on the public
site; the fallback is a second site on 127.0.0.1 (its own port) that serves VICIdial's
PHP as before. In nginx it is a server block of its own, which the location never
enters; in Apache the public ProxyPass sits in a main-server `<Location>` and the
fallback's virtual host turns it off in its own `<Location>` (`ProxyPass "!"`), which
Apache merges last.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from vicidid.about import API_PATH
from vicidid.errors import PlanError
from vicidid.store.astguiclient import AstConfig
from vicidid.web.settings import SETTINGS

MARK = "# added by vicidid setup"
UNIT_PATH = "/etc/systemd/system/vicidid.service"
ENV_PATH = "/etc/vicidid/env"
RECORD_PATH = "/var/lib/vicidid/setup.json"
NGINX_LOCATION = "/etc/nginx/snippets/vicidid.conf"
NGINX_FALLBACK = "/etc/nginx/conf.d/vicidid-php.conf"
NGINX_INCLUDE = f"include snippets/vicidid.conf;  {MARK}"
APACHE_LINK = "../conf-available/vicidid.conf"  # what a2enconf makes
DEFAULT_EXECUTABLE = "/opt/vicidid/.venv/bin/vicidid"


KEEP_MODE = -1  # a file setup edits keeps its own mode


_ROUTED = re.compile(r"location\s*=\s*" + re.escape(API_PATH) + r"\s*\{")


@dataclass(frozen=True)
class Options:
    root: Path = Path("/")
    port: int = 8081  # vicidid's
    php_port: int = 8082  # the fallback site's: VICIdial's PHP on loopback
    fallback_url: str = ""  # default: the fallback site's non_agent_api.php
    web_server: str = "auto"  # auto, nginx, apache
    executable: str = DEFAULT_EXECUTABLE

    def fallback(self) -> str:
        return self.fallback_url or f"http://127.0.0.1:{self.php_port}{API_PATH}"


@dataclass(frozen=True)
class File:
    path: str  # as on the server ("/etc/vicidid/env"); written under Options.root
    content: str
    mode: int = 0o644
    secret: bool = False  # holds the database password: never shown, never kept in the record
    link: str = ""  # a symbolic link to this target instead of content


@dataclass
class Plan:
    web_server: str  # nginx, apache-debian, apache-suse
    files: list[File] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)  # run on the real root only
    reload: list[list[str]] = field(default_factory=list)  # the web server's reload


def under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def detect(root: Path, wanted: str = "auto") -> str:
    """The web server whose files are there: nginx, apache-debian (Debian's layout) or
    apache-suse (ViciBox's)."""
    found = []
    if under(root, "/etc/nginx/nginx.conf").is_file():
        found.append("nginx")
    if under(root, "/etc/apache2/conf-available").is_dir():
        found.append("apache-debian")
    elif under(root, "/etc/apache2/conf.d").is_dir():
        found.append("apache-suse")
    if wanted != "auto":
        found = [f for f in found if f.startswith(wanted)]
    if not found:
        what = "nginx or Apache" if wanted == "auto" else wanted
        raise PlanError(f"no {what} configuration under {under(root, '/etc')}")
    if len(found) > 1:
        raise PlanError("both nginx and Apache are configured here: choose with --web-server")
    return found[0]


def plan(config: AstConfig, options: Options, existing: dict[str, str]) -> Plan:
    """Every file and command; `existing` holds the web server's site files (path: text)."""
    web = detect(options.root, options.web_server)
    result = Plan(web)
    result.files += [env_file(config, options), unit_file(options)]
    php_root = config.values.get("PATHweb") or "/var/www/html"
    if web == "nginx":
        result.files += nginx_files(options, php_root, existing)
        result.reload = [["nginx", "-t"], ["systemctl", "reload", "nginx"]]
    else:
        result.files += apache_files(web, options, php_root)
        result.reload = [["apachectl", "configtest"], ["systemctl", "reload", "apache2"]]
        if web == "apache-debian":
            result.reload.insert(0, ["a2enmod", "-q", "proxy", "proxy_http"])
        else:  # ViciBox's a2enmod (openSUSE) takes one module at a time
            result.reload[:0] = [["a2enmod", "proxy"], ["a2enmod", "proxy_http"]]
    result.commands = [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "vicidid"],
        ["systemctl", "restart", "vicidid"],
    ]
    return result


# the environment variables of vicidid's settings, by field
_ENV = {name: how.env for name, how in SETTINGS.items()}


def env_file(config: AstConfig, options: Options) -> File:
    content = (
        f"# vicidid's settings, written by `vicidid setup` from {Path(config.path).absolute()}\n"
        "# (run it again after VICIdial's database password changes). Root only: it holds\n"
        "# the password.\n"
        f"{_ENV['db_url']}={config.url()}\n"
        f"{_ENV['dialect']}=vicidial\n"
        f"{_ENV['fallback_url']}={options.fallback()}\n"
    )
    return File(ENV_PATH, content, 0o600, secret=True)


def unit_text() -> str:
    """docs/vicidid.service, as the package carries it."""
    return resources.files("vicidid.cli").joinpath("vicidid.service").read_text()


def unit_file(options: Options) -> File:
    """docs/vicidid.service with this installation's program and port."""
    text = unit_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    new_line = exec_line.replace(DEFAULT_EXECUTABLE, options.executable)
    new_line = re.sub(r"--port \d+", f"--port {options.port}", new_line)
    return File(UNIT_PATH, text.replace(exec_line, new_line))


def nginx_files(options: Options, php_root: str, existing: dict[str, str]) -> list[File]:
    location = (
        f"# vicidid setup: {API_PATH} goes to vicidid; the rest of the site stays with PHP\n"
        f"location = {API_PATH} {{\n"
        f"    proxy_pass http://127.0.0.1:{options.port};\n"
        "    proxy_set_header Host $host;\n"
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "    client_max_body_size 1m;\n"
        "}\n"
    )
    files = [File(NGINX_LOCATION, location)]
    fastcgi = ""
    for path, text in sorted(existing.items()):
        if any(_ROUTED.search(body) for _, body in server_blocks(text)):
            raise PlanError(
                f"{path} already has a location for {API_PATH} (set up by hand?): take it "
                "out, then run setup again"
            )
        edited, found = include_in_php_servers(text)
        fastcgi = fastcgi or found
        if found:  # a server block that serves PHP: the location's include in it
            files.append(File(path, edited, KEEP_MODE))
    if not fastcgi:
        raise PlanError(
            "no nginx server block passes PHP on (fastcgi_pass) in sites-enabled: add "
            "`include snippets/vicidid.conf;` to the one serving VICIdial, then run setup again"
        )
    fallback = (
        "# vicidid setup: vicidid's fallback, VICIdial's PHP on loopback as before. The\n"
        f"# location that sends {API_PATH} to vicidid is not in this server, so a request\n"
        "# vicidid passes on here is answered by PHP and never comes back to vicidid.\n"
        "server {\n"
        f"    listen 127.0.0.1:{options.php_port};\n"
        f"    root {php_root};\n"
        "    index index.php index.html;\n"
        "    location ~ \\.php$ {\n"
        "        include fastcgi_params;\n"
        "        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
        f"        fastcgi_pass {fastcgi};\n"
        "    }\n"
        "}\n"
    )
    files.append(File(NGINX_FALLBACK, fallback))
    return files


def include_in_php_servers(text: str) -> tuple[str, str]:
    """The text with NGINX_INCLUDE in every server block that passes PHP on, and the
    first fastcgi_pass address found ("" when none)."""
    found = ""
    inserts = []
    for start, body in server_blocks(text):
        address = re.search(r"^\s*fastcgi_pass\s+([^;\s]+)\s*;", body, re.MULTILINE)
        if not address:
            continue
        found = found or address.group(1)
        if "include snippets/vicidid.conf;" not in body:
            inserts.append(start)
    for start in reversed(inserts):
        text = text[:start] + f"\n    {NGINX_INCLUDE}" + text[start:]
    return text, found


def server_blocks(text: str) -> list[tuple[int, str]]:
    """Each top-level-ish `server { … }`: the offset just after its `{`, and its body
    without comments."""
    plain = re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), text)  # offsets kept
    blocks = []
    for match in re.finditer(r"(?<![\w$])server\s*\{", plain):
        depth, end = 1, match.end()
        while end < len(plain) and depth:
            depth += {"{": 1, "}": -1}.get(plain[end], 0)
            end += 1
        blocks.append((match.end(), plain[match.end() : end]))
    return blocks


def apache_files(web: str, options: Options, php_root: str) -> list[File]:
    target = f"http://127.0.0.1:{options.port}{API_PATH}"
    text = (
        f"# vicidid setup: {API_PATH} goes to vicidid; the rest stays with PHP\n"
        f'<Location "{API_PATH}">\n'
        f'    ProxyPass "{target}"\n'
        f'    ProxyPassReverse "{target}"\n'
        "</Location>\n"
        "\n"
        "# vicidid's fallback: VICIdial's PHP on loopback as before. This site's own Location\n"
        "# turns the ProxyPass above off, so what vicidid passes on is answered by PHP and\n"
        "# never comes back to vicidid. (A ProxyPass ... ! or ProxyPassInherit Off in the\n"
        "# virtual host would not: Apache tries the main server's ProxyPass first.)\n"
        f"Listen 127.0.0.1:{options.php_port}\n"
        f"<VirtualHost 127.0.0.1:{options.php_port}>\n"
        f"    DocumentRoot {php_root}\n"
        f'    <Location "{API_PATH}">\n'
        '        ProxyPass "!"\n'
        "    </Location>\n"
        "</VirtualHost>\n"
    )
    if web == "apache-debian":
        return [
            File("/etc/apache2/conf-available/vicidid.conf", text),
            File(
                "/etc/apache2/conf-enabled/vicidid.conf", "", link="../conf-available/vicidid.conf"
            ),
        ]
    return [File("/etc/apache2/conf.d/vicidid.conf", text)]


def nginx_sites(root: Path) -> dict[str, str]:
    """The enabled nginx sites (path as on the server: text), where the public server is."""
    sites = under(root, "/etc/nginx/sites-enabled")
    found = {}
    for entry in sorted(sites.iterdir()) if sites.is_dir() else []:
        logical = "/etc/nginx/sites-enabled/" + entry.name
        if entry.is_symlink():  # Debian's links point at /etc/nginx/sites-available/…
            target = Path(entry.readlink())
            logical = os.path.normpath(Path(logical).parent / target)  # absolute stays
        path = under(root, logical)
        if path.is_file():
            found[logical] = path.read_text()
    return found


def grants(config: AstConfig) -> list[str]:
    """The privileges vicidid uses on VICIdial's database (VICIdial's own user, which setup
    reuses, usually holds them all; setup never grants anything)."""
    db = config.values["VARDB_database"]
    server = config.values["VARDB_server"]
    host = "localhost" if server in ("localhost", "127.0.0.1", "::1") else "<this server>"
    who = f"'{config.values['VARDB_user']}'@'{host}'"
    return [
        f"GRANT SELECT ON `{db}`.* TO {who};",
        f"GRANT INSERT, UPDATE, DELETE ON `{db}`.`vicidial_inbound_dids` TO {who};",
        f"GRANT UPDATE ON `{db}`.`vicidial_users` TO {who};",
        *(
            f"GRANT INSERT ON `{db}`.`{table}` TO {who};"
            for table in ("vicidial_admin_log", "vicidial_api_log", "vicidial_api_urls")
        ),
        f"GRANT LOCK TABLES ON `{db}`.* TO {who};",
        f"GRANT INSERT, DELETE ON `{db}`.`vicidid_idempotency` TO {who};",
        f"GRANT INSERT, UPDATE, DELETE ON `{db}`.`vicidid_login_throttle` TO {who};",
    ]

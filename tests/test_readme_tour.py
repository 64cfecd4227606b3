"""The README's first screen and tour, run in order against a live demo server.

Every `$ curl`, `$ vicidid` line and the Python snippet are read out of README.md (up to
"## Speed"), run against `vicidid serve --demo` on a fresh database, and their output is
compared with what the README prints under them — so the README cannot drift from what
a newcomer sees. A printed line with `…` matches any line that starts with the part before
it and ends with the part after it; a last line that is only `…` stands for the rest.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PRINTED_BASE = "http://127.0.0.1:8080"
PRINTED_DB = "sqlite:///vicidid-demo.db"


@dataclass
class Step:
    kind: str  # "demo", "curl", "vicidid", "python", "skip"
    text: str  # the command, or the snippet
    expected: list[str]


def steps(readme: str) -> list[Step]:
    """The commands (and the Python snippet) of the README's first part, in order."""
    lines = readme[: readme.index("## Speed")].splitlines()
    found: list[Step] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("    $ "):
            command = line[6:]
            output = []
            i += 1
            while (
                i < len(lines) and lines[i].startswith("    ") and not lines[i].startswith("    $ ")
            ):
                output.append(lines[i][4:])
                i += 1
            word = command.split()[0]
            kind = {"scripts/demo": "demo", "curl": "curl", "vicidid": "vicidid"}.get(word)
            if word == "scripts/test":
                kind = "skip"
            assert kind, f"the README runs {word!r}, which this test does not know"
            found.append(Step(kind, command, output))
            continue
        if line.startswith("    from vicidid.client import"):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            snippet = "\n".join(block).rstrip()
            printed = re.findall(r"print\(.*\)\s+# (.*)$", snippet, flags=re.M)
            found.append(Step("python", snippet, printed))
            continue
        i += 1
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    if expected and expected[-1] == "…":  # a last line of its own: more lines follow
        expected = expected[:-1]
        actual = actual[: len(expected)]
    if len(expected) != len(actual):
        return False
    for want, got in zip(expected, actual, strict=True):
        if "…" in want:
            head, _, tail = want.partition("…")
            if not (got.startswith(head) and got.endswith(tail)):
                return False
        elif want != got:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def demo_server(db_url: str, port: int) -> Iterator[list[str]]:
    """`vicidid serve --demo`, for real; yields the lines it printed before serving."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vicidid", "--db", db_url, "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        while not printed or not printed[-1].lstrip().startswith('curl "'):
            line = process.stdout.readline()
            assert line, f"the demo server stopped; it printed {printed}"
            printed.append(line.rstrip("\n"))
        if "copy_did" not in printed[-1]:  # the second tutorial line follows the first
            printed.append(process.stdout.readline().rstrip("\n"))
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo server does not answer"
                time.sleep(0.1)
        yield printed
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def run_curl(command: str, base: str) -> list[str]:
    args = shlex.split(command.replace(PRINTED_BASE, base))[1:]
    auth, headers, data, url = None, {}, None, ""
    while args:
        arg = args.pop(0)
        if arg == "-s":
            continue
        if arg == "-u":
            user, _, password = args.pop(0).partition(":")
            auth = (user, password)
        elif arg == "-H":
            name, _, value = args.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = args.pop(0)
        else:
            assert arg.startswith("http"), f"unknown curl option {arg!r} in the README"
            url = arg
    if data is None:
        response = httpx.get(url, auth=auth, headers=headers, timeout=30)
    else:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        response = httpx.post(url, auth=auth, headers=headers, content=data, timeout=30)
    return response.text.splitlines()


def run_vicidid(command: str, db_url: str, cwd: Path) -> list[str]:
    args = shlex.split(command.replace(PRINTED_DB, db_url))[1:]
    done = subprocess.run(
        [sys.executable, "-m", "vicidid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done.stdout.splitlines()


def run_python(snippet: str, base: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet.replace(PRINTED_BASE, base), "README.md", "exec"), {})
    return out.getvalue().splitlines()


def test_the_readme_is_what_a_newcomer_sees(tmp_path):
    tour = steps(README)
    kinds = [s.kind for s in tour]
    assert kinds.count("python") == 1 and kinds.count("demo") == 1
    assert kinds.count("curl") >= 4 and kinds.count("vicidid") >= 3
    db_url = f"sqlite:///{tmp_path / 'vicidid-demo.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with demo_server(db_url, port) as printed:
        for step in tour:
            if step.kind == "demo":
                # the first line is scripts/demo's own; the rest is `serve --demo`'s
                hint = step.expected[0].replace(". .venv/", ". $venv/")
                assert f'echo "{hint}"' in (ROOT / "scripts" / "demo").read_text()
                shown = [
                    line.replace(PRINTED_BASE, base).replace(PRINTED_DB, db_url)
                    for line in step.expected[1:]
                ]
                assert printed == shown
                continue
            if step.kind == "curl":
                actual = run_curl(step.text, base)
            elif step.kind == "vicidid":
                actual = run_vicidid(step.text, db_url, tmp_path)
            elif step.kind == "python":
                actual = run_python(step.text, base)
            else:
                continue
            assert matches(step.expected, actual), (step.text, step.expected, actual)
    exported = (tmp_path / "dids.csv").read_text().splitlines()
    assert len(exported) == 1 + 100  # the header, and every DID of the 18002223xxx block

"""What the HTTP edge costs: requests/s and worker CPU per request, one worker, under wrk.

    .venv/bin/python -m bench.edge                          # this tree, both cases
    .venv/bin/python -m bench.edge --code OLD --code .      # two trees, alternated

Two cases, each a GET update_did rotating over 200 DIDs (bench/run.py's request):

- `stub`: the real app under `vicidid serve`'s uvicorn settings, its access log written
  as `serve` writes it, with the pipeline replaced by one constant answer: what is left
  is the edge (HTTP, parsing, hand-over to a thread, rendering, metrics, access log).
- `update_did`: `vicidid serve --workers 1` on a fresh database with the demo data: a SQLite
  file, or with `--backend mariadb` (vicidid's InnoDB tables) or `myisam` (VICIdial's
  schema) a database on the local MariaDB (bench/run.py's).
- `hello` (with --case hello): bench/hello.py, the same stack with no work at all: the floor.

For each run: 2 s of warm-up, then wrk (2 threads, 64 connections) for --seconds; the CPU
is the worker's utime+stime from /proc/PID/stat across the measured run, divided by the
requests wrk counted. With several --code trees the runs alternate (A B A B …) so that
each tree meets the same load on the shared machine; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.run import API, DIDS, EXPECT, LUA, LUA_CHECK, OUT, free_port, prepare, wait_ready

REPO = Path(__file__).resolve().parent.parent
QUERY = (
    "function=update_did&user=admin&pass=1234&source=bench&did_pattern=17000000001"
    "&did_description=Bench+line+one"
)


def serve_stubbed(port: int) -> None:
    """`vicidid serve` (1 worker, 127.0.0.1:port) with the pipeline a constant answer."""
    from vicidid.core.outcomes import Kind, Outcome
    from vicidid.core.params import Params
    from vicidid.core.pipeline import Incoming, Reply
    from vicidid.store.db import make_engine
    from vicidid.web import server
    from vicidid.web.forms import query_pairs
    from vicidid.web.settings import Settings

    class Stub:
        """Answers every request as a successful update_did, without reading a database
        (the engine, an in-memory SQLite one, is only there to be asked its codec)."""

        replica = None

        def __init__(self) -> None:
            params = Params(dict(query_pairs(QUERY)), filtering=False)
            outcome = Outcome(Kind.UPDATED, function="update_did", user="admin", did=DIDS[1])
            self.reply = Reply([outcome], "update_did", params, dids=[DIDS[1]])
            self.engine = make_engine("sqlite://")

        def start(self, incoming: Incoming) -> Reply:
            return self.reply

        def healthy(self) -> bool:
            return True

    real = server.create_app
    server.create_app = lambda settings: real(settings, Stub())  # type: ignore[assignment,misc]
    server.run(Settings(db_url="sqlite://"), "127.0.0.1", port, 1)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(url: str, seconds: float) -> tuple[int, float, float, float, int]:
    """(requests, requests/s, p50 ms, p99 ms, wrong answers) of update_did under wrk."""
    script = OUT / "edge.lua"
    prefix = EXPECT["update_did"]
    script.write_text(
        LUA["update_did"].format(api=API) + LUA_CHECK.format(n=len(prefix), prefix=prefix)
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{int(seconds)}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    import re

    from bench.run import ms  # wrk's units

    count = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    wrong = int(re.search(r"WRONG_BODIES (\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return count, rate, p50, p99, wrong + (int(non2xx.group(1)) if non2xx else 0)


def one_run(code: str, case: str, seconds: float, backend: str = "sqlite") -> dict[str, float]:
    port = free_port()
    path = str(Path(code).resolve())
    env = {**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{REPO}"}
    if case == "stub":
        boot = f"from bench.edge import serve_stubbed; serve_stubbed({port})"
        args = [sys.executable, "-c", boot]
    elif case == "hello":
        args = [sys.executable, "-m", "uvicorn", "bench.hello:app", "--port", str(port)]
        args += ["--no-access-log", "--http", "httptools", "--loop", "uvloop"]
    else:
        db = prepare(backend)
        args = [sys.executable, "-m", "vicidid", "--db", db, "serve"]
        args += ["--workers", "1", "--port", str(port)]
    log = (OUT / f"edge-{port}.log").open("w")
    process = subprocess.Popen(args, stdout=log, stderr=log, env=env, cwd=OUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/healthz", process)
        drive(url, 2)  # warm-up
        before = cpu_seconds(process.pid)
        count, rate, p50, p99, wrong = drive(url, seconds)
        cpu = cpu_seconds(process.pid) - before
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    return {"rate": rate, "cpu_ms": cpu / count * 1000, "p50": p50, "p99": p99, "wrong": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", help="a source tree (repeat to compare)")
    parser.add_argument("--case", action="append", choices=["stub", "update_did", "hello"])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "mariadb", "myisam"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    codes = args.code or [str(REPO)]
    cases = args.case or ["stub", "update_did"]
    OUT.mkdir(exist_ok=True)
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    print("| case | code | round | load | req/s | CPU ms/req | p50 ms | p99 ms | wrong |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        for n in range(args.rounds):
            for code in codes:
                load = os.getloadavg()[0]
                r = one_run(code, case, args.seconds, args.backend)
                results.setdefault((case, code), []).append(r)
                print(
                    f"| {case} | {code} | {n + 1} | {load:.1f} | {r['rate']:,.0f} | "
                    f"{r['cpu_ms']:.3f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['wrong']:.0f} |",
                    flush=True,
                )
                time.sleep(1)
    print("\nmedians:")
    for (case, code), runs in results.items():
        rate = statistics.median(r["rate"] for r in runs)
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        print(f"  {case:10} {code}: {rate:,.0f} req/s, {cpu:.3f} ms CPU per request")


if __name__ == "__main__":
    main()

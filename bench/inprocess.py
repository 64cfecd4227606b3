"""update_did without HTTP: worker CPU and database round trips per request.

    python -m bench.inprocess                        # each backend, 2,000 requests
    python -m bench.inprocess --backends mariadb --profile   # and where the time goes
    python -m bench.inprocess --backends mariadb,myisam --cursors 3  # store/mysqldb.py's gain
    python -m bench.inprocess --code OLD --code . --rounds 5  # two trees, alternated

It runs `Pipeline.handle` in a loop on one thread, as a request thread of the server does,
rendering each answer as the HTTP edge would, and prints a table: CPU per request
(`time.process_time`), wall time per request, and the round trips each request made to
the database (every query, COMMIT and ROLLBACK the driver sent, counted in the driver).
The databases are bench/run.py's: SQLite, vicidid's InnoDB tables on MariaDB (`mariadb`),
and VICIdial's own MyISAM schema (`myisam`), each with the demo data and 200 DIDs.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench import run
from bench.run import DIDS
from vicidid.core.call import POLICIES
from vicidid.core.dialects import simple
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import mysqldb
from vicidid.store.db import make_engine

ROUNDS = 10


@contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Count what the MariaDB drivers send: each query, COMMIT and ROLLBACK is a round trip."""
    classes = []
    for module in ("MySQLdb.connections", "pymysql.connections"):
        try:
            classes.append(importlib.import_module(module).Connection)
        except ImportError:
            continue
    count = [0]
    originals = [
        (cls, name, getattr(cls, name))
        for cls in classes
        for name in ("query", "commit", "rollback")
    ]

    def counted(original: Callable[..., object]) -> Callable[..., object]:
        def call(self: object, *args: object, **kw: object) -> object:
            count[0] += 1
            return original(self, *args, **kw)

        return call

    for cls, name, original in originals:
        setattr(cls, name, counted(original))
    try:
        yield count
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def request(n: int) -> Incoming:
    return Incoming(
        query=[
            ("function", "update_did"),
            ("user", "admin"),
            ("pass", "1234"),
            ("source", "bench"),
            ("did_pattern", DIDS[(n * 7) % len(DIDS)]),
            ("did_description", f"Bench line {n % 2}"),
        ]
    )


def measure(url: str, requests: int, profile: bool) -> tuple[float, float, float]:
    """CPU ms, wall ms and round trips per update_did: the least of ten rounds, which
    other work on the machine can only raise."""
    engine = make_engine(url, pool_size=1)
    pipeline = Pipeline(engine, POLICIES["simple"])
    for n in range(50):  # warm: the login remembered, the statements compiled
        pipeline.handle(request(n))
    cpu, wall, trips = [], [], []
    profiler = cProfile.Profile(time.process_time) if profile else None
    for _ in range(ROUNDS):
        with counting_round_trips() as count:
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            for n in range(requests // ROUNDS):
                reply = pipeline.handle(request(n))
                simple.render(reply.outcomes)
            if profiler:
                profiler.disable()
            c1, w1 = time.process_time(), time.perf_counter()
        cpu.append((c1 - c0) * 1000 / (requests // ROUNDS))
        wall.append((w1 - w0) * 1000 / (requests // ROUNDS))
        trips.append(count[0] / (requests // ROUNDS))
        assert reply.kinds[-1].value == "updated", reply.kinds
    engine.dispose()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return min(cpu), min(wall), statistics.median(trips)


def python_calls(url: str, requests: int = 200) -> float:
    """Python function calls per update_did (cProfile's count), after a warm-up."""
    engine = make_engine(url, pool_size=1)
    pipeline = Pipeline(engine, POLICIES["simple"])
    for n in range(50):
        pipeline.handle(request(n))
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(requests):
        pipeline.handle(request(n))
    profiler.disable()
    engine.dispose()
    return pstats.Stats(profiler).total_calls / requests  # type: ignore[attr-defined]


def compare_cursors(backends: list[str], requests: int, pairs: int) -> None:
    """store/mysqldb.py's quicker path against mysqlclient's own cursor, alternated."""
    cursor = mysqldb.Cursor
    print("| backend | pair | mysqldb.py CPU ms | cursor CPU ms | difference |")
    print("|---|---|---|---|---|")
    for backend in backends:
        url = run.prepare(backend)
        counts = []
        for plain in (False, True):  # Python calls per request: the same on any machine
            mysqldb.Cursor = None if plain else cursor
            counts.append(python_calls(url))
        mysqldb.Cursor = cursor
        print(f"| {backend} | Python calls per request | {counts[0]:.0f} | {counts[1]:.0f} | "
              f"{counts[0] - counts[1]:+.0f} |", flush=True)  # fmt: skip
        for pair in range(pairs):
            found = []
            for plain in (False, True):
                mysqldb.Cursor = None if plain else cursor  # None: drives() is False
                found.append(measure(url, requests, False)[0])
            mysqldb.Cursor = cursor
            ours, theirs = found
            print(
                f"| {backend} | {pair + 1} | {ours:.3f} | {theirs:.3f} | "
                f"{(ours - theirs) / theirs:+.1%} |",
                flush=True,
            )


def compare_trees(codes: list[str], backends: list[str], requests: int, rounds: int) -> None:
    """This bench run from each source tree in turn (A B A B …), so that what else the
    machine does falls on each alike; each run on a fresh database."""
    found: dict[tuple[str, str], list[float]] = {}
    print("| backend | round | tree | CPU ms/request | wall ms/request |")
    print("|---|---|---|---|---|")
    for backend in backends:
        for n in range(rounds):
            for code in codes:
                path = os.path.abspath(code)
                out = subprocess.run(
                    [sys.executable, "-m", "bench.inprocess", "--backends", backend,
                     "--requests", str(requests)],
                    capture_output=True, text=True, check=True, cwd=path,
                    env={**os.environ, "PYTHONPATH": path},
                ).stdout  # fmt: skip
                cpu, wall = (float(v) for v in out.strip().splitlines()[-1].split("|")[2:4])
                found.setdefault((backend, code), []).append(cpu)
                print(f"| {backend} | {n + 1} | {code} | {cpu:.3f} | {wall:.3f} |", flush=True)
    print("\nmedians:")
    for (backend, code), cpus in found.items():
        print(f"  {backend:8} {code}: {statistics.median(cpus):.3f} ms CPU per request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,mariadb,myisam")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--cursors",
        type=int,
        default=0,
        help="N pairs alternated: store/mysqldb.py's path, then mysqlclient's cursor",
    )
    parser.add_argument("--code", action="append", help="a source tree (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=5, help="with --code: runs of each")
    args = parser.parse_args()
    if args.code:
        return compare_trees(args.code, args.backends.split(","), args.requests, args.rounds)
    rows = []
    run.OUT.mkdir(exist_ok=True)
    if args.cursors:
        return compare_cursors(args.backends.split(","), args.requests, args.cursors)
    for backend in args.backends.split(","):
        cpu, wall, trips = measure(run.prepare(backend), args.requests, args.profile)
        rows.append(f"| {backend} | {cpu:.3f} | {wall:.3f} | {trips:.1f} |")
    print("| backend | CPU ms/request | wall ms/request | round trips/request |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""copy_did alone, served over HTTP: calls of 150 new DIDs, and one call of 10,000.

    .venv/bin/python -m bench.copies                       # VICIdial's MyISAM schema
    .venv/bin/python -m bench.copies --backend mariadb --calls 40

A shorter companion to bench/run.py for the copy cases: a fresh database of the backend
(bench.run.prepare: the demo data and 200 DIDs), `vicidid serve --workers N` on 127.0.0.1,
then copy_did of 150 new DIDs per call (the vicidial dialect's most) from 1 and from 4
client threads, and one copy of 10,000 (the simple dialect's most), each onto DIDs no call
made before. Prints a table in bench/run.py's format; writes nothing else.
"""

from __future__ import annotations

import argparse
import sys

from bench.run import API, BACKENDS, OUT, copies, prepare, start, stop, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="myisam", choices=sorted(BACKENDS))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--calls", type=int, default=40, help="calls of 150 per thread count")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    url = prepare(args.backend)
    server_url, server, log = start(
        [sys.executable, "-m", "vicidid", "--db", url, "serve", "--workers", str(args.workers)],
        "/healthz",
    )
    rows = []
    try:
        copies(server_url, 150, 1, 2, 4 * 10**10)  # warm-up: connections, first reads
        first = 4 * 10**10 + 10**6
        for threads in (1, 4):
            rows.append(copies(server_url, 150, threads, args.calls, first))
            first += args.calls * 150
        rows.append(copies(server_url, 10_000, 1, 1, first))
    finally:
        stop(server, log)
    for row in rows:
        row.backend, row.workers = args.backend, args.workers
    print(table(rows))
    assert all(row.errors == 0 for row in rows), f"wrong answers from {API}"


if __name__ == "__main__":
    main()

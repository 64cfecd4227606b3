"""`scripts/cluster up|down|status`: the cluster of bench/cluster.py, left running between commands.

`up` starts the primary, the replica, three vicidid servers and HAProxy, and writes what
it started to STATE in the cluster's directory; `down` stops them, from that file, and
removes the directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import cluster
from bench.apt import AptError

STATE = "cluster.json"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "vicidid-cluster"


def up(
    directory: Path, schema: str, db_ports: tuple[int, int], web_ports: list[int], lb: int
) -> dict:
    if (directory / STATE).exists():
        raise cluster.ClusterError(
            f"a cluster is already up in {directory}: `scripts/cluster down` first"
        )
    directory.mkdir(parents=True, exist_ok=True)
    dbs = cluster.Databases.at(directory, db_ports)
    web = cluster.Web(directory / "web", "")
    try:
        dbs.up()
        web.db_url = dbs.create(schema)
        dbs.caught_up()
        web.up(web_ports, lb)
    except BaseException:
        web.down()
        dbs.down()
        raise
    procs = [*web.servers, web.balancer, dbs.replica, dbs.primary]  # the order to stop them in
    state = {
        "schema": schema,
        "balancer": web.url,
        "servers": [s.url for s in web.servers],
        "primary": dbs.primary.url(),
        "replica": dbs.replica.url(),
        "pids": [p.proc.pid for p in procs if p is not None and p.proc is not None],
    }
    (directory / STATE).write_text(json.dumps(state, indent=2))
    return state


def down(directory: Path) -> None:
    path = directory / STATE
    if not path.exists():
        raise cluster.ClusterError(f"no cluster is up in {directory}")
    for pid in json.loads(path.read_text())["pids"]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(600):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    parser.add_argument("--schema", choices=cluster.SCHEMAS, default="innodb")
    parser.add_argument("--db-ports", default="3340,3341", help="primary,replica")
    parser.add_argument("--web-ports", default="18201,18202,18203")
    parser.add_argument("--port", type=int, default=18200, help="the balancer's")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            first, second = (int(p) for p in args.db_ports.split(","))
            web_ports = [int(p) for p in args.web_ports.split(",")]
            state = up(args.dir, args.schema, (first, second), web_ports, args.port)
            print(json.dumps(state, indent=2))
        elif args.command == "down":
            down(args.dir)
            print(f"cluster in {args.dir} stopped")
        else:
            path = args.dir / STATE
            print(path.read_text() if path.exists() else f"no cluster is up in {args.dir}")
    except (cluster.ClusterError, AptError, ValueError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

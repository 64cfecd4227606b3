"""vicidid's InnoDB schema on a three-node Galera cluster, under the mixed load and a kill.

    python -m bench.galera [--seconds 20] [--clients 32]

It starts three `mariadbd` nodes of one Galera cluster on this machine (Debian's galera-4,
installed when missing; mysqldump for the state transfer), one vicidid server on each node
and HAProxy (docs/haproxy.cfg) in front, so that every node takes writes at once. Then:

- the mixed load of tests/test_cluster.py (update_did, copy_did, add_did from 32 clients),
  one vicidid server SIGKILLed a third of the way and started again two thirds of the way;
  every answer reconciled with what the database holds (tests/cluster_load.py);
- copy_did of 5 new DIDs per call from every client at once: Galera hands each node its
  own auto-increment step and offset, so a node's new ids are not consecutive; each id
  vicidid logged for a new DID ("ADDED, did_id: N") must be that DID's id in the table;
- the three nodes compared: the same DIDs, no id given twice.

It prints a table; bench/RESULTS.md keeps a run's.
"""

from __future__ import annotations

import argparse
import re
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench import cluster
from bench.apt import apt_install
from tests.cluster_load import SOURCE_DID, reconcile, run_load
from vicidid import API_PATH
from vicidid.store.db import make_engine

PROVIDER = "/usr/lib/galera/libgalera_smm.so"


def start_nodes(base: Path, count: int = 3) -> list[cluster.MariaDB]:
    apt_install("galera-4", PROVIDER)
    nodes = [
        cluster.MariaDB(f"node{i + 1}", cluster.free_port(), base / f"node{i + 1}", i + 1)
        for i in range(count)
    ]
    gmcast = [cluster.free_port() for _ in nodes]
    everyone = ",".join(f"127.0.0.1:{p}" for p in gmcast)

    def synced(node: cluster.MariaDB) -> bool:
        state = node.sql("SHOW STATUS LIKE 'wsrep_local_state_comment'", check=False)
        return state.endswith("Synced")

    try:
        for i, node in enumerate(nodes):
            _start_node(node, i, everyone, gmcast[i])
            cluster.wait_for(f"{node.name} synced", lambda node=node: synced(node), 120)
        size = nodes[0].sql("SHOW STATUS LIKE 'wsrep_cluster_size'").split()[-1]
        if size != str(count):
            raise cluster.ClusterError(f"the cluster has {size} nodes, not {count}")
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def _start_node(node: cluster.MariaDB, i: int, everyone: str, gmcast: int) -> None:
    installing = node.install()
    _, err = installing.communicate()
    if installing.returncode != 0:
        raise cluster.ClusterError(f"mariadb-install-db for {node.name}: {err.decode()}")
    node.start(
        replica=False,
        extra=[
            "--wsrep-on=ON",
            f"--wsrep-provider={PROVIDER}",
            "--wsrep-cluster-name=vicidid_bench",
            f"--wsrep-cluster-address=gcomm://{'' if i == 0 else everyone}",
            "--wsrep-node-address=127.0.0.1",
            f"--wsrep-provider-options=base_port={gmcast}",
            # the state transfer: the donor's mysqldump loaded into the joiner's own port
            f"--wsrep-sst-receive-address=127.0.0.1:{node.port}",
            "--wsrep-sst-method=mysqldump",
            "--wsrep-sst-auth=root:",
            "--binlog-format=ROW",
            "--innodb-autoinc-lock-mode=2",
        ],
        binlog=False,
    )
    if i == 0:  # replicated to the others by their state transfer
        node.sql(
            "CREATE USER IF NOT EXISTS root@'127.0.0.1';"
            "GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;"
        )


def copies(url: str, clients: int, per_client: int) -> list[str]:
    """copy_did of 5 new DIDs per call from every client at once; the answers."""
    answers: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(timeout=30) as http:
            for n in range(per_client):
                new = ",".join(f"9{c:02d}{n:04d}{k}" for k in range(5))
                text = http.get(
                    f"{url}{API_PATH}?function=copy_did&user=admin&pass=1234&source=galera"
                    f"&did_pattern={SOURCE_DID}&new_did_pattern={new}"
                ).text
                with lock:
                    answers.append(text)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def logged_ids_wrong(engine: sa.engine.Engine) -> tuple[int, int]:
    """(ids logged for new DIDs, those that are not the DID's id in the table)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION wsrep_sync_wait=1")
        notes = conn.execute(
            sa.text("SELECT event_notes FROM vicidial_admin_log WHERE event_type = 'COPY'")
        ).scalars()
        logged = [m for note in notes for m in re.findall(r"(\d+) ADDED, did_id: (\d+)", note)]
        ids = dict(
            conn.execute(sa.text("SELECT did_pattern, did_id FROM vicidial_inbound_dids")).all()
        )
    return len(logged), sum(1 for did, did_id in logged if str(ids.get(did)) != did_id)


def node_dids(node: cluster.MariaDB) -> tuple[int, int]:
    """(DIDs on the node, ids given to two DIDs)."""
    out = node.sql(
        "SET SESSION wsrep_sync_wait=1; SELECT did_id FROM vicidid.vicidial_inbound_dids"
    )
    ids = Counter(out.split())
    return len(out.split()), sum(1 for n in ids.values() if n > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="vicidid-galera-"))
    nodes = start_nodes(base)
    web = cluster.Web(base / "web", "")
    try:
        url = cluster.Databases(base, nodes[0], nodes[1]).create("innodb")
        web.base.mkdir(parents=True, exist_ok=True)
        web.servers = [
            cluster.Server(f"web{i + 1}", cluster.free_port(), n.url(), base / f"web{i + 1}.log")
            for i, n in enumerate(nodes)
        ]
        for server in web.servers:
            server.start()
        web.balancer = cluster.HAProxy(cluster.free_port(), base / "haproxy.cfg")
        web.balancer.start([f"127.0.0.1:{s.port}" for s in web.servers])
        time.sleep(1.5)
        victim = web.servers[1]
        killer = threading.Timer(args.seconds / 3, victim.signal, args=(signal.SIGKILL,))
        reviver = threading.Timer(args.seconds * 2 / 3, victim.start, kwargs={"wait": False})
        killer.start()
        reviver.start()
        sent = run_load(web.url, 1, args.seconds, args.clients)
        reviver.join()
        victim.wait_healthy()
        answers = copies(web.url, args.clients, 10)
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET SESSION wsrep_sync_wait=1")
        problems = reconcile(engine, sent, 1)
        logged, wrong_ids = logged_ids_wrong(engine)
        engine.dispose()
        by_status = Counter(s.status for s in sent)
        acknowledged = sum(1 for s in sent if s.acknowledged)
        print(f"\nGalera, 3 nodes; {args.clients} clients for {args.seconds:.0f} s, web2 killed")
        print("\n| measure | value |\n|---|---|")
        print(f"| requests of the mixed load | {len(sent)} |")
        print(f"| acknowledged | {acknowledged} |")
        otherwise = dict(by_status - Counter({200: acknowledged}))
        print(f"| answered otherwise, by HTTP status | {otherwise} |")
        partly = sum(1 for s in sent if "partly applied" in s.body)
        refused = sum(1 for s in sent if s.refused)
        print(f"| 503 nothing written (checked), 503 may be partly applied | {refused}, {partly} |")
        print(f"| not reconciled (lost, twice, refused yet written, log rows) | {len(problems)} |")
        print(
            f"| copy_did of 5: answers, successes | {len(answers)}, "
            f"{sum(a.startswith('SUCCESS') for a in answers)} |"
        )
        print(f"| ids logged for new DIDs, wrong | {logged}, {wrong_ids} |")
        for node in nodes:
            count, twice = node_dids(node)
            print(f"| {node.name}: DIDs, ids given twice | {count}, {twice} |")
        bodies = Counter(
            f"{s.function} {s.status} {s.body.strip()[:70]}" for s in sent if not s.acknowledged
        )
        for body, n in bodies.most_common(5):
            print(f"   {n} x {body}")
        for line in problems[:10]:
            print("  ", line)
    finally:
        web.down()
        for node in reversed(nodes):
            node.stop()


if __name__ == "__main__":
    main()

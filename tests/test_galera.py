"""check-db on a Galera node: VICIdial's MyISAM tables are not replicated, and it says so.

A one-node Galera cluster (Debian's galera-4, installed when missing) is started here on a
mariadbd of its own (bench/cluster.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from bench import cluster
from bench.apt import apt_install
from vicidid.cli import main

PROVIDER = "/usr/lib/galera/libgalera_smm.so"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[cluster.MariaDB]:
    if not (shutil.which("mariadb-install-db") and os.path.exists("/usr/sbin/mariadbd")):
        reason = "MariaDB's server package is not installed"
        if os.environ.get("VICIDID_REQUIRE_MARIADB") == "1":
            pytest.fail(reason + " and VICIDID_REQUIRE_MARIADB=1")
        pytest.skip(reason)
    apt_install("galera-4", PROVIDER)
    base = tmp_path_factory.mktemp("galera")
    db = cluster.MariaDB("galera", cluster.free_port(), base / "node", 1)
    installing = db.install()
    _, err = installing.communicate()
    assert installing.returncode == 0, err
    galera = [
        "--wsrep-on=ON",
        f"--wsrep-provider={PROVIDER}",
        "--wsrep-cluster-address=gcomm://",  # a new cluster of one
        f"--wsrep-provider-options=base_port={cluster.free_port()}",
        "--binlog-format=ROW",
        "--innodb-autoinc-lock-mode=2",
    ]
    db.start(replica=False, extra=galera, binlog=False)
    db.sql(
        "SET sql_log_bin=0; CREATE USER IF NOT EXISTS root@'127.0.0.1';"
        "GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;"
    )
    try:
        yield db
    finally:
        db.stop()


def test_check_db_says_galera_does_not_replicate_myisam(node, tmp_path):
    dbs = cluster.Databases(tmp_path, node, node)  # create() runs on the "primary" only
    url = dbs.create("myisam", "vicidial_on_galera")
    assert node.sql("SHOW STATUS LIKE 'wsrep_cluster_size'").split()[-1] == "1"
    r = CliRunner().invoke(main, ["--db", url, "check-db"])
    assert r.exit_code == 0, r.output
    assert "Galera cluster node" in r.output and "does not replicate MyISAM" in r.output


def test_check_db_is_quiet_about_galera_for_innodb(node, tmp_path):
    dbs = cluster.Databases(tmp_path, node, node)
    url = dbs.create("innodb", "vicidid_on_galera")
    r = CliRunner().invoke(main, ["--db", url, "check-db"])
    assert r.exit_code == 0, r.output
    assert "Galera" not in r.output

"""Reads from the replica (--read-url): did_info, did_list and `did export` go to a MariaDB
replica started here (bench/cluster.py) while it replicates within the lag bound, and to
the primary when it is stopped or behind; logins and writes always go to the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from bench import cluster
from tests import test_cluster
from vicidid import API_PATH
from vicidid.cli import main
from vicidid.store.replica import CHECK_EVERY, lag_of
from vicidid.web.settings import Settings

databases = test_cluster.databases  # the primary and its replica, a fixture
BASE = f"{API_PATH}?user=admin&pass=1234&source=replica"


@pytest.fixture(scope="module")
def served(databases, tmp_path_factory) -> Iterator[cluster.Server]:
    url = databases.create("innodb", "vicidid_reads")
    replica = databases.replica.url("vicidid_reads")
    log = tmp_path_factory.mktemp("reads") / "web.log"
    server = cluster.Server("reads", cluster.free_port(), url, log, ["--read-url", replica])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def get(server: cluster.Server, query: str) -> httpx.Response:
    return httpx.get(f"{server.url}{BASE}&{query}", timeout=10)


def test_a_did_written_on_the_primary_is_read_from_the_replica(served, databases):
    added = get(served, "function=add_did&did_pattern=6200000001&did_description=Freshline")
    assert added.text.startswith("SUCCESS")
    assert "vicidid-read-from" not in added.headers  # a write: the primary, not said
    databases.caught_up()
    time.sleep(CHECK_EVERY)
    info = get(served, "function=did_info&did_pattern=6200000001")
    assert info.headers["vicidid-read-from"] == "replica"
    assert "did_description|Freshline" in info.text
    listed = get(served, "function=did_list&prefix=62")
    assert listed.headers["vicidid-read-from"] == "replica"
    assert "6200000001" in listed.text


def test_a_stopped_replica_sends_reads_to_the_primary_and_is_counted(served, databases):
    databases.replica.sql("STOP SLAVE")
    try:
        time.sleep(CHECK_EVERY + 0.2)
        added = get(served, "function=add_did&did_pattern=6200000002")
        assert added.text.startswith("SUCCESS")
        info = get(served, "function=did_info&did_pattern=6200000002")
        # not replicated, so only the primary has it: it was read there
        assert info.headers["vicidid-read-from"] == "primary"
        assert info.text.startswith("did_id")
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
        assert 'vicidid_reads_total{read_from="primary"}' in metrics
    finally:
        databases.start_replication()
    databases.caught_up()
    time.sleep(CHECK_EVERY + 0.2)
    assert get(served, "function=did_info&did_pattern=6200000002").headers["vicidid-read-from"] == (
        "replica"
    )


def test_a_replica_server_down_still_answers_reads(served, databases):
    databases.replica.stop()
    try:
        time.sleep(CHECK_EVERY + 0.2)
        info = get(served, "function=did_info&did_pattern=6200000001")
        assert info.status_code == 200 and info.text.startswith("did_id")
        assert info.headers["vicidid-read-from"] == "primary"
    finally:
        databases.replica.start(replica=True)
        databases.start_replication()


def test_did_export_reads_the_replica(served, databases):
    databases.caught_up()
    result = CliRunner().invoke(
        main,
        [
            "--db",
            databases.primary.url("vicidid_reads"),
            "did",
            "export",
            "--prefix",
            "62",
            "--read-url",
            databases.replica.url("vicidid_reads"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "reading the replica" in result.stderr
    assert "6200000001" in result.stdout


def test_the_lag_is_read_from_the_replica_status():
    assert lag_of(None) == 0.0  # no replication configured: never behind
    running = {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes"}
    assert lag_of({**running, "Seconds_Behind_Master": 3}) == 3.0
    assert lag_of({**running, "Seconds_Behind_Master": None}) is None
    assert lag_of({**running, "Slave_SQL_Running": "No", "Seconds_Behind_Master": 0}) is None


@pytest.mark.parametrize("url", ["sqlite:///x.db", "not a url", "http://replica/"])
def test_a_read_url_that_names_no_mariadb_is_refused_in_one_line(url):
    with pytest.raises(ValueError, match=r"--read-url .* is not a MariaDB/MySQL URL"):
        Settings(read_url=url)
    assert Settings(read_url="mysql://u:secret@replica/vicidial").read_url
    assert "secret" not in repr(Settings(read_url="mysql://u:secret@replica/vicidial"))

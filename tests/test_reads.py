"""core/reads.py: which reads may go to the replica, and that a refused login opens no
connection to it. The "replica" here is a second engine on the same MariaDB database (no
replication runs, so it is never behind); tests/test_replica_reads.py runs a real one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.test_faults import innodb_url  # noqa: F401  (a fixture)
from vicidid.core import reads
from vicidid.core.call import POLICIES
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store.db import make_engine
from vicidid.store.replica import Replica


def test_only_reading_functions_that_need_a_login_may_read_the_replica():
    assert reads.reads_only("did_info") and reads.reads_only("did_list")
    assert not any(reads.reads_only(f) for f in ("update_did", "copy_did", "add_did", "version"))
    assert not reads.reads_only("no_such_function")


@pytest.mark.mariadb
def test_a_refused_login_opens_no_replica_connection(innodb_url):  # noqa: F811
    engine = make_engine(innodb_url)
    pipeline = Pipeline(engine, POLICIES["simple"])
    with engine.begin() as conn:  # a plain password: no hashing in this test
        conn.execute(sa.text("UPDATE system_settings SET pass_hash_enabled='0'"))
        conn.execute(sa.text("UPDATE vicidial_users SET pass='1234' WHERE user='6666'"))
    pipeline.replica = Replica(innodb_url, max_lag=1.0, pool_size=2)
    checkouts: list[object] = []
    sa.event.listen(pipeline.replica.engine, "checkout", lambda *args: checkouts.append(args))

    def did_info(password: str):
        query = [("function", "did_info"), ("user", "6666"), ("pass", password)]
        query += [("source", "test"), ("did_pattern", "18001234567")]
        return pipeline.handle(Incoming(query))

    refused = did_info("wrong1")
    assert refused.kinds == [Kind.BAD_LOGIN] and refused.read_from == ""
    assert checkouts == []
    allowed = did_info("1234")
    assert allowed.kinds[-1] is Kind.DID_INFO and allowed.read_from == reads.REPLICA
    assert checkouts  # the replica's look at its lag, and the read
    pipeline.replica.dispose()
    engine.dispose()

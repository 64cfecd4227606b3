"""Both MariaDB drivers, by name: the rest of the suite runs on the one vicidid picks."""

from __future__ import annotations

import importlib.util

import pytest
import sqlalchemy as sa

from tests.conftest import serve
from vicidid.cli import demo
from vicidid.store.db import MYSQL_DRIVERS, make_engine, mysql_url
from vicidid.store.schema import init_db

UPDATE = (
    "function=update_did&user=6666&pass=1234&source=test&did_pattern=18001234567"
    "&did_description=Driver+{n}"
)
COPY = (
    "function=copy_did&user=6666&pass=1234&source=test&did_pattern=18001234567"
    "&new_dids=18005550101,18005550102,18005550101"
)


def installed(driver: str) -> bool:
    return importlib.util.find_spec(MYSQL_DRIVERS[driver]) is not None


def test_a_url_without_driver_gets_the_fastest_installed():
    expected = "mysqldb" if installed("mysqldb") else "pymysql"
    assert mysql_url("mysql://u@h/db").drivername == f"mysql+{expected}"
    assert mysql_url("mariadb://u@h/db").drivername == f"mariadb+{expected}"


def test_a_named_driver_is_kept_and_utf8mb4_added():
    u = mysql_url("mysql+pymysql://u:pw@h/db")
    assert u.drivername == "mysql+pymysql"
    assert u.query["charset"] == "utf8mb4"
    assert mysql_url("mysql+pymysql://u@h/db?charset=latin1").query["charset"] == "latin1"


@pytest.mark.mariadb
@pytest.mark.parametrize("driver", sorted(MYSQL_DRIVERS))
def test_requests_on_each_driver(driver, mariadb_url):
    if not installed(driver):
        pytest.skip(f"{driver} is not installed (mysqlclient: pip install 'vicidid[fast]')")
    url = sa.make_url(mariadb_url)
    engine = make_engine(url.set(drivername=f"mysql+{driver}").render_as_string(False))
    assert engine.dialect.driver == driver
    init_db(engine)
    demo.load(engine)
    with serve(engine) as live:
        for n in range(2):
            assert live.get(UPDATE.format(n=n)).text == (
                "SUCCESS: 18001234567 | DID Updated Successfully\n"
            )
        assert live.did("18001234567")["did_description"] == "Driver 1"
        assert live.get(COPY).text.splitlines() == [
            "SUCCESS: 18001234567 -> 18005550101 | DID Copied Successfully",
            "SUCCESS: 18001234567 -> 18005550102 | DID Copied Successfully",
            "ERROR: NEW DID ALREADY EXISTS | 18005550101",
            "SUCCESS: 18001234567 -> 3 DIDs | 2 Copied, 1 Already Existed, 0 Invalid",
        ]
        assert live.count("vicidial_api_log") == live.count("vicidial_api_urls")
        assert live.get(UPDATE.format(n=3).replace("pass=1234", "pass=nope")).text == (
            "ERROR: INVALID USERNAME OR PASSWORD\n"
        )
        assert live.did("18001234567")["did_description"] == "Driver 1"
    engine.dispose()

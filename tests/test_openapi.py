"""The OpenAPI document and the Postman collection agree with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from vicidid import fields
from vicidid.core.functions import FUNCTIONS
from vicidid.web.openapi import API_PATH, document, render_postman

ROOT = Path(__file__).parent.parent


def names_in_document() -> set[str]:
    return {p["name"] for p in document()["paths"][API_PATH]["get"]["parameters"]}


def test_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_parameter_the_parser_reads_is_documented_and_nothing_else():
    expected = {
        n
        for f in (
            fields.FUNCTION,
            fields.USER,
            fields.PASS,
            fields.SOURCE,
            fields.FORMAT,
            fields.IDEMPOTENCY_KEY,
        )
        for n in f.names
    }
    for function in FUNCTIONS.values():
        expected |= {n for f in function.parameters for n in f.names}
    assert names_in_document() == expected
    # both names of every alias are there
    for pair in (
        ("did_active", "active"),
        ("recording", "record_call"),
        ("group_id", "group"),
        ("new_did_pattern", "new_dids"),
        ("did_pattern", "source_did_pattern"),
    ):
        assert set(pair) <= names_in_document()


def test_form_body_matches_the_query_parameters():
    post = document()["paths"][API_PATH]["post"]["requestBody"]["content"]
    for media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        assert set(post[media]["schema"]["properties"]) == names_in_document()


def test_function_enum_and_choices():
    params = {p["name"]: p for p in document()["paths"][API_PATH]["get"]["parameters"]}
    enum = ["version", "update_did", "copy_did", "add_did", "did_info", "did_list"]
    assert params["function"]["schema"]["enum"] == enum == [*FUNCTIONS]
    assert params["recording"]["schema"]["enum"] == ["ALLCALLS", "NEVER", "Y", "N", "Y_QUEUESTOP"]
    assert params["record_call"]["schema"]["enum"] == ["Y", "N", "Y_QUEUESTOP"]


def test_postman_collection_is_current():
    committed = (ROOT / "docs" / "postman_collection.json").read_text()
    assert committed == render_postman(), (
        "run: python -m vicidid.web.openapi postman docs/postman_collection.json"
    )
    collection = json.loads(committed)
    assert collection["info"]["schema"].endswith("v2.1.0/collection.json")
    urls = [i["request"]["url"]["raw"] for i in collection["item"]]
    assert any("function=copy_did" in u and "new_did_pattern=18002223333" in u for u in urls)


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_served(live, path):
    r = live.client.get(live.url + path)
    assert r.status_code == 200
    if path == "/openapi.json":
        assert r.json() == json.loads(json.dumps(document()))
    else:
        assert '"openapi.json"' in r.text
        # every asset the page loads is served here: nothing comes from another host
        assets = re.findall(r'(?:href|src)="([^"]+)"', r.text)
        assert assets == ["docs/assets/swagger-ui.css", "docs/assets/swagger-ui-bundle.js"]
        for asset in assets:
            served = live.client.get(f"{live.url}/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000, asset


def test_servers_are_relative_so_try_it_out_targets_the_serving_host():
    assert document()["servers"] == [{"url": "/"}]


def test_json_body_is_documented_with_the_same_names():
    body = document()["paths"][API_PATH]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == names_in_document()
    new_dids = body["schema"]["properties"]["new_dids"]["anyOf"]
    assert {"type": "array", "items": {"type": ["string", "number"]}} in new_dids


def test_postman_requests_answer_on_the_demo(live):
    """Every request of the collection, sent as Postman would, gets a proper answer."""
    collection = json.loads(render_postman())
    for item in collection["item"]:
        raw = item["request"]["url"]["raw"].replace("{{base_url}}", live.url)
        raw = raw.replace("{{user}}", "admin").replace("{{pass}}", "1234")
        auth = ("admin", "1234") if "auth" in item["request"] else None
        r = live.client.get(raw, auth=auth)
        assert r.status_code == 200, item["name"]
        assert not r.text.startswith("ERROR"), (item["name"], r.text)

"""The OpenAPI 3.1 document, /docs, and the Postman collection — all from the registries.

Every parameter comes from vicidid.fields through the FUNCTIONS registry, so the document
cannot drift from what the parser accepts (tests/test_openapi.py checks both ways).

    python -m vicidid.web.openapi postman docs/postman_collection.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from vicidid.about import API_PATH, __version__
from vicidid.core.functions import FUNCTIONS
from vicidid.fields import (
    FORMAT,
    FUNCTION,
    IDEMPOTENCY_KEY,
    NEW_DIDS,
    PASS,
    SOURCE,
    USER,
    Field,
)

# A JSON object of the OpenAPI document or the Postman collection.
Json = dict[str, Any]

REQUEST_FIELDS = (FUNCTION, USER, PASS, SOURCE, FORMAT, IDEMPOTENCY_KEY)


def known_fields() -> dict[str, tuple[Field, list[str]]]:
    """Every parameter name the parser reads: name -> (field, functions that use it)."""
    names: dict[str, tuple[Field, list[str]]] = {}
    for field in REQUEST_FIELDS:
        for name in field.names:
            names[name] = (field, [])
    for function in FUNCTIONS.values():
        for field in function.parameters:
            for name in field.names:
                names.setdefault(name, (field, []))[1].append(function.name)
    return names


def schema(field: Field, name: str) -> Json:
    if name == "function":
        return {"type": "string", "enum": [*FUNCTIONS]}
    out: Json = {"type": "string"}
    if field.choices:
        words = [w for w, _ in field.synonyms] if name == field.names[0] else []
        out["enum"] = [*words, *field.choices]
    elif field.itemised:
        out["description"] = "comma-separated DIDs, each 2 to 50 characters"
    else:
        out["minLength"], out["maxLength"] = field.min_len, field.max_len
        out["pattern"] = "^[0-9]+$" if field.digits else f"^[{field.charset}]+$"
    return out


def parameters() -> list[Json]:
    found = []
    for name, (field, functions) in known_fields().items():
        text = field.help
        others = [n for n in field.names if n != name]
        if others:
            text += f" (same as `{others[0]}`)"
        if functions:
            text += " — used by " + ", ".join(dict.fromkeys(functions))
        found.append(
            {
                "name": name,
                "in": "query",
                "required": name == "function",
                "description": text,
                "schema": schema(field, name),
            }
        )
    return found


JSON_BODY = {
    "type": "object",
    "required": ["result", "function", "kind", "message", "reason", "dids"],
    "properties": {
        "result": {"enum": ["SUCCESS", "NOTICE", "ERROR"]},
        "function": {"type": "string"},
        "kind": {"type": "string", "description": "the outcome, e.g. updated, did_not_found"},
        "message": {"type": "string", "description": "the simple dialect's line(s)"},
        "reason": {"type": "string", "description": "VICIdial's reason text"},
        "did": {"type": "string"},
        "did_id": {"type": "integer"},
        "dids": {"type": "array", "items": {"type": "string"}},
        "field": {"type": "string"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "did": {"type": "string"},
                    "result": {"type": "string"},
                    "kind": {"type": "string"},
                    "did_id": {"type": ["integer", "null"]},
                },
            },
        },
        "counts": {
            "type": "object",
            "properties": {
                "added": {"type": "integer"},
                "existed": {"type": "integer"},
                "invalid": {"type": "integer"},
            },
        },
        "row": {"type": "object"},
        "rows": {"type": "array", "items": {"type": "object"}},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    },
}

TEXT_EXAMPLES = {
    "updated": "SUCCESS: 18001234567 | DID Updated Successfully\n",
    "copied": "SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n",
    "vicidial": "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n",
    "not_found": "ERROR: DID PATTERN NOT FOUND\n",
}
STATUS_TEXT = {
    "200": "Success, or an error line in text (text answers are 200 for results and errors)",
    "401": "JSON: bad credentials or locked out",
    "403": "JSON: no permission, or IP not allowed",
    "404": "JSON: DID not found",
    "409": "JSON: already exists",
    "400": "JSON: a JSON request body that cannot be read (the text answer is 200)",
    "413": "Body over 1 MiB",
    "422": "JSON: invalid input",
    "500": "The database refused vicidid: a missing privilege, or another server fault",
    "502": "With a fallback: VICIdial's non_agent_api.php did not answer",
    "503": "Database unavailable, or the connection was lost and the change may be partly applied",
    "504": "With a fallback: VICIdial's non_agent_api.php did not answer in time",
}
SERVER_ERRORS = {
    "500": "ERROR: DATABASE PERMISSION DENIED | vicidid's database user lacks a privilege …\n",
    "502": "ERROR: FALLBACK UNAVAILABLE | add_lead goes to VICIdial's non_agent_api.php …\n",
    "503": "ERROR: DATABASE UNAVAILABLE\n",
    "504": "ERROR: FALLBACK TIMED OUT | add_lead goes to VICIdial's non_agent_api.php …\n",
}


def responses() -> Json:
    out = {}
    for code, text in STATUS_TEXT.items():
        content: Json = {"application/json": {"schema": JSON_BODY}}
        if code in ("200", "413", "500", "502", "503", "504"):
            content["text/plain"] = {
                "schema": {"type": "string"},
                "examples": {k: {"value": v} for k, v in TEXT_EXAMPLES.items()}
                if code == "200"
                else {
                    "error": {
                        "value": SERVER_ERRORS.get(
                            code, "ERROR: REQUEST TOO LARGE | at most 1 MiB\n"
                        )
                    }
                },
            }
        out[code] = {"description": text, "content": content}
    return out


def json_value(parameter: Json) -> Json:
    """A parameter in a JSON body: its form schema, or a number; a list for the DID lists."""
    choices: list[Json] = [parameter["schema"], {"type": "number"}]
    if parameter["name"] in NEW_DIDS.names:
        choices.append({"type": "array", "items": {"type": ["string", "number"]}})
    return {"anyOf": choices}


def document() -> Json:
    params = parameters()
    form = {"type": "object", "properties": {p["name"]: p["schema"] for p in params}}
    json_form = {
        "type": "object",
        "description": "The same parameters as the form, as one JSON object: values are "
        "strings or numbers, new_dids may be a list, null counts as not given. A body "
        "that is not such an object is answered `ERROR: INVALID JSON BODY | why`.",
        "properties": {p["name"]: json_value(p) for p in params},
    }
    described = "\n".join(f"- `{f.name}`: {f.summary}" for f in FUNCTIONS.values())
    operation = {
        "summary": "VICIdial Non-Agent API for inbound DIDs",
        "description": f"The `function` parameter picks the operation:\n{described}\n\n"
        "A GET parameter wins over a POST one of the same name; a repeated name keeps its "
        "last value.",
        "parameters": params,
        "responses": responses(),
        "security": [{}, {"basic": []}],
    }
    post = {
        **operation,
        "parameters": [],
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {"schema": form},
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": json_form},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vicidid",
            "version": __version__,
            "description": "VICIdial's Non-Agent API for inbound DIDs.",
        },
        # relative: "Try it out" targets whichever server (or proxy) served the document
        "servers": [{"url": "/"}],
        "paths": {
            API_PATH: {
                "get": {**operation, "operationId": "api_get"},
                "post": {**post, "operationId": "api_post"},
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Database reachable?",
                    "responses": {
                        "200": {"description": "OK"},
                        "503": {"description": "Database down, or the server draining"},
                    },
                }
            },
        },
        "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
    }


# Swagger UI's files come from the swagger-ui-bundle-v2 package and are served here, so
# /docs works on a machine without internet. Paths are relative, so it works behind a
# proxy's prefix too; validatorUrl null keeps Swagger UI from calling its online validator.
ASSETS = "/docs/assets"
DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>vicidid API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "openapi.json", dom_id: "#ui", validatorUrl: null});</script>
</body></html>
"""


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(document())


async def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE)


def routes() -> list[BaseRoute]:
    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets"),
    ]


# The Postman collection -----------------------------------------------------------------

# The two tutorials' requests, exactly as they print them (the demo prints them too).
TUTORIAL_QUERIES = (
    "function=update_did&user={user}&pass={password}&source=DIDUpdate&did_pattern=18001234567"
    "&did_description=Customer%20Support%20Line&did_route=AGENT&user_id=1001"
    "&voicemail_ext=8500&did_active=Y&recording=ALLCALLS",
    "function=copy_did&user={user}&pass={password}&source=DIDCopy&did_pattern=18001234567"
    "&new_did_pattern=18002223333&did_active=Y",
)


def tutorial_query(number: int, user: str, password: str) -> str:
    return TUTORIAL_QUERIES[number].format(user=user, password=password)


# (name, query, the answer's first line on the demo data, as a JavaScript regex). Sent in
# this order to a fresh demo they get exactly the first alternative; sent again, the
# copies and the add meet DIDs that exist by then, which is the second.
TUTORIAL_REQUESTS = [
    (
        "Update a DID (update_did tutorial)",
        tutorial_query(0, "{{user}}", "{{pass}}"),
        r"^SUCCESS: 18001234567 \| DID Updated Successfully$",
    ),
    (
        "Copy a DID (copy_did tutorial)",
        tutorial_query(1, "{{user}}", "{{pass}}"),
        r"^(SUCCESS: 18001234567 -> 18002223333 \| DID Copied Successfully"
        r"|ERROR: NEW DID ALREADY EXISTS)$",
    ),
    (
        "Copy onto several DIDs",
        "function=copy_did&user={{user}}&pass={{pass}}&source=postman"
        "&did_pattern=18001234567&new_dids=18002223334,18002223335,18002223336",
        r"^(SUCCESS: 18001234567 -> 18002223334 \| DID Copied Successfully"
        r"|ERROR: NEW DID ALREADY EXISTS \| 18002223334)$",
    ),
    (
        "Add a DID",
        "function=add_did&user={{user}}&pass={{pass}}&source=postman"
        "&did_pattern=18005550123&did_description=Added%20from%20Postman&did_route=IN_GROUP"
        "&group_id=SALES_TEAM",
        r"^SUCCESS: 18005550123 \| DID Added Successfully$",
    ),
    (
        "Delete a DID",
        "function=update_did&user={{user}}&pass={{pass}}&source=postman"
        "&did_pattern=18005550123&delete_did=Y",
        r"^SUCCESS: 18005550123 \| DID Deleted Successfully$",
    ),
    (
        "One DID, every column",
        "function=did_info&user={{user}}&pass={{pass}}&source=postman&did_pattern=18001234567",
        r"^did_id\|\d+$",
    ),
    (
        "List DIDs",
        "function=did_list&user={{user}}&pass={{pass}}&source=postman&limit=50",
        r"^did_id\|did_pattern\|did_description\|",
    ),
    (
        "Update, JSON answer",
        "function=update_did&user={{user}}&pass={{pass}}&source=postman"
        "&did_pattern=18001234567&did_active=N&format=json",
        r'^\{"result": "SUCCESS", "function": "update_did", "kind": "updated"',
    ),
    ("Version", "function=version", r"^VERSION: \S+\|BUILD: "),
]


def _tests(first_line: str) -> list[Json]:
    """Postman test scripts: the status, and the answer's first line."""
    return [
        {
            "listen": "test",
            "script": {
                "type": "text/javascript",
                "exec": [
                    'pm.test("HTTP 200", function () {',
                    "    pm.response.to.have.status(200);",
                    "});",
                    'pm.test("first line of the answer", function () {',
                    '    var first = pm.response.text().split("\\n")[0];',
                    f"    pm.expect(first).to.match(/{first_line}/);",
                    "});",
                ],
            },
        }
    ]


def _request(name: str, query: str, first_line: str, basic: bool = False) -> Json:
    pairs = [p.split("=", 1) for p in query.split("&")]
    item: Json = {
        "name": name,
        "event": _tests(first_line),
        "request": {
            "method": "GET",
            "url": {
                "raw": "{{base_url}}" + API_PATH + "?" + query,
                "host": ["{{base_url}}"],
                "path": API_PATH.strip("/").split("/"),
                "query": [{"key": k, "value": v} for k, v in pairs],
            },
        },
    }
    if basic:
        item["request"]["auth"] = {
            "type": "basic",
            "basic": [
                {"key": "username", "value": "{{user}}", "type": "string"},
                {"key": "password", "value": "{{pass}}", "type": "string"},
            ],
        }
    return item


def postman() -> Json:
    items = [_request(*request) for request in TUTORIAL_REQUESTS]
    items.append(
        _request(
            "Update with HTTP Basic auth",
            "function=update_did&source=postman&did_pattern=18001234567&did_active=Y",
            r"^SUCCESS: 18001234567 \| DID Updated Successfully$",
            basic=True,
        )
    )
    return {
        "info": {
            "name": "vicidid",
            "description": document()["info"]["description"],
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "variable": [
            {"key": "base_url", "value": "http://127.0.0.1:8080"},
            {"key": "user", "value": "admin"},
            {"key": "pass", "value": "1234"},
        ],
        "item": items,
    }


def render_postman() -> str:
    return json.dumps(postman(), indent=2) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised by tests through render_postman
    if len(sys.argv) != 3 or sys.argv[1] != "postman":
        sys.exit("usage: python -m vicidid.web.openapi postman FILE")
    Path(sys.argv[2]).write_text(render_postman())

"""A Python client for vicidid — and for VICIdial's own non_agent_api.php.

    from vicidid.client import Client
    with Client("http://127.0.0.1:8080", "admin", "1234") as api:
        api.update_did("18001234567", did_route="AGENT", user_id="1001")
        result = api.copy_did("18001234567", ["18002223333", "18002223334"])

Against vicidid it asks for JSON; against a real VICIdial (which answers only text) it
reads either text dialect. Failures raise ApiError subclasses carrying the reason.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from vicidid import errors
from vicidid.about import API_PATH
from vicidid.client import parse as client_parse
from vicidid.fields import vicidial_name

# A POST's body is a second small write: without TCP_NODELAY it waits for the server's
# delayed ACK, up to 40 ms a request.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


ERRORS: dict[str, type[errors.ApiError]] = {
    "bad_login": errors.AuthError,
    "locked": errors.AuthError,
    "throttled": errors.AuthError,
    "credentials_conflict": errors.AuthError,
    "ip_refused": errors.PermissionDenied,
    "no_permission": errors.PermissionDenied,
    "function_not_allowed": errors.PermissionDenied,
    "no_delete_permission": errors.PermissionDenied,
    "did_not_found": errors.NotFound,
    "did_exists": errors.AlreadyExists,
    "copy_exists": errors.AlreadyExists,
    "database_down": errors.Unavailable,
    "busy": errors.Unavailable,
    "partly_applied": errors.Unavailable,
    "database_privilege": errors.Unavailable,
    "internal_error": errors.Unavailable,
}


@dataclass
class Result:
    result: str
    kind: str
    message: str
    did: str = ""
    did_id: int | None = None


@dataclass
class CopyItem:
    did: str
    ok: bool
    kind: str
    did_id: int | None = None


@dataclass
class CopyResult:
    source: str
    items: list[CopyItem] = field(default_factory=list)
    message: str = ""

    @property
    def added(self) -> int:
        return sum(1 for i in self.items if i.kind == "copied")

    @property
    def existed(self) -> int:
        return sum(1 for i in self.items if i.kind == "copy_exists")

    @property
    def invalid(self) -> int:
        return sum(1 for i in self.items if i.kind == "copy_invalid")


@dataclass
class DidInfo:
    row: dict[str, Any]


@dataclass
class DidPage:
    rows: list[dict[str, Any]]
    limit: int | None = None
    offset: int | None = None


# What an answer reads as. Each function's has its shape (did_info a DidInfo, …): the
# methods below say which; a server that is not vicidid may answer with a plain Result.
Answer = Result | CopyResult | DidInfo | DidPage


def _error(kind: str, reason: str, line: str, status: int) -> errors.ApiError:
    return ERRORS.get(kind, errors.InvalidInput)(reason, line, kind, status)


class _Base:
    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        *,
        source: str = "vicidid",
        use_basic_auth: bool = False,
        dialect: str = "auto",
        timeout: float = 60,
    ) -> None:
        if dialect not in ("auto", "json", "simple", "vicidial"):
            raise ValueError("dialect is auto, json, simple or vicidial")
        self.url = base_url.rstrip("/") + API_PATH
        self.user, self.password, self.source = user, password, source
        self.basic, self.dialect, self.timeout = use_basic_auth, dialect, timeout

    def _form(self, function: str, params: dict[str, object]) -> dict[str, object]:
        given = (vicidial_name(k, v) if isinstance(v, str) else (k, v) for k, v in params.items())
        form = {
            "function": function,
            "source": self.source,
            **{k: v for k, v in given if v is not None},
        }
        if not self.basic:
            form["user"], form["pass"] = self.user, self.password
        if self.dialect in ("auto", "json"):
            form["format"] = "json"
        return form

    def _auth(self) -> tuple[str, str] | None:
        # None: the HTTP client's own, which is none (httpx takes its marker for that)
        return (self.user, self.password) if self.basic else None

    def _read(self, function: str, response: httpx.Response) -> Answer:
        if response.headers.get("content-type", "").startswith("application/json"):
            return self._read_json(function, response.json(), response.status_code)
        return self._read_text(function, response.text, response.status_code)

    def _read_json(self, function: str, body: dict[str, Any], status: int) -> Answer:
        kind = body.get("kind", "")
        if body.get("result") == "ERROR" and kind != "copy_summary" and "results" not in body:
            raise _error(
                kind, body.get("reason") or body.get("message", ""), body.get("message", ""), status
            )
        if kind == "did_info":
            return DidInfo(body["row"])
        if kind == "did_list":
            return DidPage(body["rows"], body.get("limit"), body.get("offset"))
        if "results" in body:
            items = [
                CopyItem(i["did"], i["kind"] == "copied", i["kind"], i.get("did_id"))
                for i in body["results"]
            ]
            return CopyResult(body.get("did", ""), items, body.get("message", ""))
        return Result(
            body["result"], kind, body.get("message", ""), body.get("did", ""), body.get("did_id")
        )

    def _read_text(self, function: str, text: str, status: int) -> Answer:
        lines = client_parse.parse(text)
        if not lines:
            raise errors.InvalidInput("empty answer", text, "", status)
        if function == "did_info" and lines[0].kind == "unknown":
            return DidInfo(dict(line.text.split("|", 1) for line in lines))
        if function == "did_list" and lines[0].kind == "unknown":
            header = lines[0].text.split("|")
            return DidPage(
                [dict(zip(header, line.text.split("|"), strict=False)) for line in lines[1:]]
            )
        items = [line for line in lines if line.kind in ("copied", "copy_exists", "copy_invalid")]
        if function == "copy_did" and items:
            source = next(
                (line.fields.get("source", "") for line in lines if line.fields.get("source")), ""
            )
            return CopyResult(
                source,
                [
                    CopyItem(
                        line.fields.get("did", ""),
                        line.kind == "copied",
                        line.kind,
                        int(line.fields["did_id"]) if "did_id" in line.fields else None,
                    )
                    for line in items
                ],
                text,
            )
        last = lines[-1]
        if not last.ok:
            raise _error(last.kind, client_parse.reason(last.text), last.text, status)
        did_id = last.fields.get("did_id")
        return Result(
            last.text.split(":")[0],
            last.kind,
            text.strip(),
            last.fields.get("did", ""),
            int(did_id) if did_id else None,
        )


class Client(_Base):
    """Synchronous client."""

    def __init__(self, base_url: str, user: str, password: str, **options: Any) -> None:
        super().__init__(base_url, user, password, **options)
        self._http = httpx.Client(
            timeout=self.timeout, transport=httpx.HTTPTransport(socket_options=NODELAY)
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, function: str, **params: object) -> Answer:
        response = self._http.post(
            self.url,
            data=self._form(function, params),
            auth=self._auth() or httpx.USE_CLIENT_DEFAULT,
        )
        return self._read(function, response)

    def update_did(self, did: str, **fields: object) -> Result:
        return cast(Result, self.call("update_did", did_pattern=did, **fields))

    def delete_did(self, did: str) -> Result:
        return cast(Result, self.call("update_did", did_pattern=did, delete_did="Y"))

    def add_did(self, did: str, **fields: object) -> Result:
        return cast(Result, self.call("add_did", did_pattern=did, **fields))

    def copy_did(self, source: str, new_dids: str | list[str], **fields: object) -> CopyResult:
        new = new_dids if isinstance(new_dids, str) else ",".join(new_dids)
        return cast(
            CopyResult, self.call("copy_did", source_did_pattern=source, new_dids=new, **fields)
        )

    def did_info(self, did: str) -> DidInfo:
        return cast(DidInfo, self.call("did_info", did_pattern=did))

    def did_list(self, **filters: object) -> DidPage:
        return cast(DidPage, self.call("did_list", **filters))

    def version(self) -> str:
        return self._http.get(self.url, params={"function": "version"}).text.strip()


class AsyncClient(_Base):
    """Asynchronous client with the same methods, awaited."""

    def __init__(self, base_url: str, user: str, password: str, **options: Any) -> None:
        super().__init__(base_url, user, password, **options)
        self._http = httpx.AsyncClient(
            timeout=self.timeout, transport=httpx.AsyncHTTPTransport(socket_options=NODELAY)
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, function: str, **params: object) -> Answer:
        response = await self._http.post(
            self.url,
            data=self._form(function, params),
            auth=self._auth() or httpx.USE_CLIENT_DEFAULT,
        )
        return self._read(function, response)

    async def update_did(self, did: str, **fields: object) -> Result:
        return cast(Result, await self.call("update_did", did_pattern=did, **fields))

    async def delete_did(self, did: str) -> Result:
        return cast(Result, await self.call("update_did", did_pattern=did, delete_did="Y"))

    async def add_did(self, did: str, **fields: object) -> Result:
        return cast(Result, await self.call("add_did", did_pattern=did, **fields))

    async def copy_did(
        self, source: str, new_dids: str | list[str], **fields: object
    ) -> CopyResult:
        new = new_dids if isinstance(new_dids, str) else ",".join(new_dids)
        return cast(
            CopyResult,
            await self.call("copy_did", source_did_pattern=source, new_dids=new, **fields),
        )

    async def did_info(self, did: str) -> DidInfo:
        return cast(DidInfo, await self.call("did_info", did_pattern=did))

    async def did_list(self, **filters: object) -> DidPage:
        return cast(DidPage, await self.call("did_list", **filters))

    async def version(self) -> str:
        return (await self._http.get(self.url, params={"function": "version"})).text.strip()

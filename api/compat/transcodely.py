"""Transcodely's JobService, as drop-in Connect-RPC routes: `POST /transcodely.v1.JobService/{Create, Get,
List, Cancel, Confirm, Watch}`.

A thin adapter: Create is a native submission (api/services/submission.py: the same validation, limits,
SSRF checks and idempotency keys), the other methods read and update native jobs through the native job
store, and Watch streams the native events (api/services/events.py). Answers are Transcodely's Job object
(api/compat/transcodely_shapes.py); errors are Connect errors `{"code", "message", "details"}`, for these
routes only. Watch answers newline-delimited JSON (`{"result": {...}}` per line) as the document shows,
or Connect's enveloped stream when asked in `application/connect+json`, as Transcodely's SDKs do.
What is and is not supported: docs/compat/transcodely.md.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from api import json_text
from api.compat import transcodely_shapes as shapes
from api.deps import (
    DownloadsDep,
    JobStoreDep,
    Organization,
    SettingsDep,
    SubmissionsDep,
    SubmissionSlot,
)
from api.errors import STATUS_CODES, ApiError, describe_validation
from api.job_store import read_age
from api.multipart_stream import StoredUpload
from api.services import events, listing
from api.services.downloads import Downloads
from recast.core.contract import UPDATE_CANCEL, UPDATE_CONFIRM
from recast.core.job import Job, JobStatus
from recast.core.requests import JobCreate

SERVICE = "/transcodely.v1.JobService"
CONNECT_JSON = "application/connect+json"
MAX_BODY = 64 * 1024


def connect_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    http, body = shapes.connect_error(status, code, message)
    return JSONResponse(body, status_code=http, headers=headers)


class ConnectRoute(APIRoute):
    """Every failure of these routes (the native ones raised below them too) as a Connect error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return connect_error(exc.status, exc.code, exc.message, exc.headers)
            except (RequestValidationError, ValidationError) as exc:
                return connect_error(400, "invalid-input", describe_validation(list(exc.errors())))
            except HTTPException as exc:
                code = STATUS_CODES.get(exc.status_code, "error")
                return connect_error(exc.status_code, code, str(exc.detail))

        return route


class ConnectError(BaseModel):
    """A Connect error, as Transcodely documents it."""

    code: str
    message: str
    details: list[dict[str, Any]] = []


OBJECT: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a method (the route reads it itself)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


BY_ID = _body_schema({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}})
_VARIANT = {
    "type": "object",
    "properties": {
        "codec": {"enum": ["h264", "h265", "vp9", "av1"]},
        "resolution": {"enum": ["480p", "720p", "1080p", "1440p", "2160p"]},
        "quality": {"enum": ["economy", "standard", "premium"]},
        **{name: {"type": "integer"} for name in ("framerate", "width", "height", "bitrate")},
    },
}
CREATE_BODY = _body_schema(
    {
        "type": "object",
        "required": ["input_url", "output_origin_id", "outputs"],
        "properties": {
            "input_url": {"type": "string", "description": "gs://, s3:// or https://"},
            "output_origin_id": {"type": "string"},
            "outputs": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10,
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"enum": ["mp4", "webm", "mkv", "mov", "hls", "dash"]},
                        "video": {"type": "array", "items": _VARIANT, "minItems": 1, "maxItems": 20},
                        "preset": {"type": "string"},
                        "segments": {"type": "object", "properties": {"duration": {"type": "integer"}}},
                    },
                },
            },
            "priority": {"enum": ["economy", "standard", "premium"]},
            "thumbnails": {"type": "array", "maxItems": 5, "items": {"type": "object"}},
            "webhook_url": {"type": "string", "maxLength": 2048},
            "idempotency_key": {"type": "string", "maxLength": 128},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "delayed_start": {"type": "boolean"},
            "output_path_template": {"type": "string"},
        },
    }
)
LIST_BODY = _body_schema(
    {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "pagination": {
                "type": "object",
                "properties": {"limit": {"type": "integer"}, "cursor": {"type": "string"}},
            },
        },
    }
)
ANSWER: dict[int | str, dict[str, Any]] = {200: {"description": '`{"job": Job}`', "content": OBJECT}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ConnectError, "description": "A Connect error"} for code in (400, 401, 403, 404, 429, 503)
}
router = APIRouter(prefix=SERVICE, tags=["compat: Transcodely"], route_class=ConnectRoute, responses=ERRORS)


async def _body(request: Request) -> dict[str, Any]:
    """The request message: JSON, or one Connect envelope of JSON (a streaming call's request)."""
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY:
            raise ApiError(413, "too-large", f"request messages are limited to {MAX_BODY} bytes")
    data = bytes(raw)
    if request.headers.get("content-type", "").startswith(CONNECT_JSON) and len(data) >= 5:
        _, length = struct.unpack(">BI", data[:5])
        data = data[5 : 5 + length]
    if not data.strip():
        return {}
    try:
        message = json_text.loads(data)
    except ValueError as exc:
        raise ApiError(400, "invalid-input", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ApiError(400, "invalid-input", "the request message must be a JSON object")
    return message


def _id(message: dict[str, Any]) -> str:
    job_id = message.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise ApiError(400, "invalid-input", "id: is required")
    return job_id


async def _answer(job: Job, org: str, downloads: Downloads, storage_url: str) -> JSONResponse:
    return JSONResponse({"job": shapes.job_view(job, storage_url, await downloads.job_links(job))})


@router.post(
    "/Create",
    response_model=None,
    responses=ANSWER,
    openapi_extra=CREATE_BODY,
    summary="Transcodely: create a job",
)
async def create(
    request: Request,
    org: Organization,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    downloads: DownloadsDep,
    settings: SettingsDep,
) -> JSONResponse:
    """A CreateJobRequest (JSON). Its `idempotency_key` (else the Idempotency-Key header) returns the
    job that key already made."""
    header = request.headers.get("idempotency-key")
    kept: dict[str, str] = {}

    async def translate(raw: dict[str, object], _: StoredUpload | None) -> dict[str, object]:
        native, compat = shapes.create_request(dict(raw), header)
        kept.update(compat)
        return native

    if request.headers.get("content-type", "").split(";")[0].strip() not in ("application/json", ""):
        raise ApiError(415, "unsupported-media-type", "send the request message as application/json")
    # The body is read (and translated) before `compat` is needed, so it is filled in by then.
    job, _ = await submissions.start(
        request, org, slot, JobCreate, translate=translate, compat=kept, header_key=False
    )
    return await _answer(job, org, downloads, settings.storage)


@router.post(
    "/Get", response_model=None, responses=ANSWER, openapi_extra=BY_ID, summary="Transcodely: retrieve a job"
)
async def get(
    request: Request, org: Organization, store: JobStoreDep, downloads: DownloadsDep, settings: SettingsDep
) -> JSONResponse:
    """A poll, as `GET /v1/jobs/{id}` is: while Temporal is slow a running job may be its last read
    (`Age` header); `Cache-Control: no-cache` asks for a fresh one."""
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    job = await store.get(_id(await _body(request)), org, stale_ok=not fresh)
    answer = await _answer(job, org, downloads, settings.storage)
    if (age := read_age.get()) is not None:
        answer.headers["Age"] = str(int(age))
    return answer


@router.post(
    "/List",
    response_model=None,
    openapi_extra=LIST_BODY,
    responses={200: {"description": "`{jobs, pagination}`", "content": OBJECT}},
    summary="Transcodely: list jobs",
)
async def list_jobs(
    request: Request, org: Organization, store: JobStoreDep, downloads: DownloadsDep, settings: SettingsDep
) -> JSONResponse:
    """`status` (or one of `statuses`) and `pagination` {`limit` (default 20, max 100), `cursor`}."""
    message = shapes.given(await _body(request))
    statuses = shapes.repeated(message.get("statuses"), "statuses")
    if len(statuses) > 1:
        raise ApiError(400, "invalid-input", "statuses: one status per request on this server")
    wanted = message.get("status") or next(iter(statuses), None)
    try:
        status = JobStatus(wanted) if wanted else None
    except (ValueError, TypeError) as exc:
        names = ", ".join(s.value for s in JobStatus)
        raise ApiError(400, "invalid-input", f"status: one of {names}") from exc
    page = shapes.given(shapes.message(message.get("pagination"), "pagination"))
    limit = page.get("limit", listing.DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= listing.MAX_LIMIT:
        raise ApiError(400, "invalid-input", f"pagination.limit: 1 to {listing.MAX_LIMIT}")
    if "offset" in page:
        raise ApiError(400, "invalid-input", "pagination.offset: not supported; use cursor")
    cursor = page.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ApiError(400, "invalid-input", "pagination.cursor: a next_cursor this API returned")
    result = await listing.list_jobs(store, org, status, limit, cursor)
    jobs = [shapes.job_view(j, settings.storage, await downloads.job_links(j)) for j in result.data]
    return JSONResponse(
        {
            "jobs": jobs,
            "pagination": {"next_cursor": result.next_cursor or "", "total_count": result.total_count},
        }
    )


@router.post(
    "/Cancel", response_model=None, responses=ANSWER, openapi_extra=BY_ID, summary="Transcodely: cancel a job"
)
async def cancel(
    request: Request, org: Organization, store: JobStoreDep, downloads: DownloadsDep, settings: SettingsDep
) -> JSONResponse:
    job = await store.get(_id(await _body(request)), org)
    return await _answer(await store.control(job, UPDATE_CANCEL), org, downloads, settings.storage)


@router.post(
    "/Confirm",
    response_model=None,
    responses=ANSWER,
    openapi_extra=BY_ID,
    summary="Transcodely: confirm a delayed-start job",
)
async def confirm(
    request: Request, org: Organization, store: JobStoreDep, downloads: DownloadsDep, settings: SettingsDep
) -> JSONResponse:
    job = await store.get(_id(await _body(request)), org)
    return await _answer(await store.control(job, UPDATE_CONFIRM), org, downloads, settings.storage)


def _envelope(flags: int, payload: bytes) -> bytes:
    return struct.pack(">BI", flags, len(payload)) + payload


@router.post(
    "/Watch",
    openapi_extra=BY_ID,
    summary="Transcodely: watch a job (server streaming)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": 'Newline-delimited JSON, one `{"result": {job, event, server_time}}` '
            "per line; Connect's enveloped stream with `Content-Type: application/connect+json`.",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}, CONNECT_JSON: {"schema": {}}},
        }
    },
)
async def watch(
    request: Request, org: Organization, store: JobStoreDep, downloads: DownloadsDep, settings: SettingsDep
) -> StreamingResponse:
    """The current state at once (`snapshot`), then `progress`, `status_change`, `heartbeat`, and
    `completed`, after which the stream ends."""
    connect = request.headers.get("content-type", "").startswith(CONNECT_JSON)
    first = await store.get(_id(await _body(request)), org)  # 404 before the stream starts

    async def messages() -> AsyncIterator[bytes]:
        try:
            async for event in events.watch(store, first.id, org, first, settings.events_heartbeat_s):
                urls = await downloads.job_links(event.job) if event.job.status.terminal else {}
                message = {
                    "job": shapes.job_view(event.job, settings.storage, urls),
                    "event": event.event,
                    "server_time": shapes.timestamp(event.server_time),
                }
                if connect:
                    yield _envelope(0, json.dumps(message).encode())
                else:
                    yield (json.dumps({"result": message}) + "\n").encode()
        except ApiError as exc:  # mid-stream: the error ends the stream, in the stream's own format
            _, body = shapes.connect_error(exc.status, exc.code, exc.message)
            error = {k: body[k] for k in ("code", "message")}
            yield (
                _envelope(2, json.dumps({"error": error}).encode())
                if connect
                else (json.dumps({"error": error}) + "\n").encode()
            )
            return
        if connect:
            yield _envelope(2, b"{}")

    return StreamingResponse(
        messages(),
        media_type=CONNECT_JSON if connect else "application/x-ndjson",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""Hypervideo's background-removal API (docs/compat/hypervideo.md): the async jobs
(`POST /api/v1/jobs/video/remove-background`, `GET /api/v1/jobs/{jobId}`) and the synchronous
`POST /api/v1/video/remove-background`, in its `{"success", "data"}` envelope — errors included — with
its statuses, stages and progress ranges, as its SDK (`@hypervideo-dev/sdk`) expects them.

A thin adapter: the submission is turned into a native job (a `webm` output with an alpha channel and/or
a `stacked-alpha` mp4, both with the native `background` option) and started by the native submission
service, so limits, validation, storage and SSRF rules are the native ones; the job is read from the
native job store and re-shaped (api/compat/hypervideo_shape.py). Hypervideo shows a job only to the key
that submitted it: the key's hash is kept with the job (Job.compat) and checked on every read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import authenticate, bearer
from api.compat.hypervideo_request import API, FORMATS, KEY, error_code, translator
from api.compat.hypervideo_shape import (
    HypervideoError,
    HypervideoJob,
    HypervideoSubmitted,
    HypervideoSyncResult,
    job_data,
    sync_result,
)
from api.deps import DownloadsDep, JobStoreDep, SettingsDep, State, StorageDep, SubmissionsDep, SubmissionSlot
from api.errors import STATUS_CODES, ApiError, describe_validation
from api.job_store import read_age
from api.services.downloads import Downloads
from recast.core.job import Job, JobStatus, OutputStatus
from recast.core.requests import JobCreate
from recast.infra.storage import Storage, output_key

log = logging.getLogger("recast.api")

TAG = "compat: Hypervideo"


def failure(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, keyed: bool = False
) -> JSONResponse:
    """An error in Hypervideo's envelope: `{"success": false, "error": {"code", "message", "details"}}`,
    its code in Hypervideo's names (`details.recastCode`: Recast's, where they differ). `keyed`: the
    request sent a key (an unknown one is INVALID_API_KEY, none at all UNAUTHORIZED)."""
    mapped = "INVALID_API_KEY" if code == "unauthorized" and keyed else error_code(code)
    error: dict[str, object] = {"code": mapped, "message": message}
    if mapped != code:
        error["details"] = {"recastCode": code}
    return JSONResponse({"success": False, "error": error}, status_code=status, headers=headers)


class EnvelopedRoute(APIRoute):
    """Every failure on these routes — auth, limits, validation, not found — in Hypervideo's envelope
    (the rest of the API keeps its own error shape)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def enveloped(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                keyed = bool(request.headers.get("authorization", "").strip())
                return failure(exc.status, exc.code, exc.message, exc.headers, keyed)
            except RequestValidationError as exc:
                return failure(400, "invalid-input", describe_validation(list(exc.errors())))
            except StarletteHTTPException as exc:
                code = STATUS_CODES.get(exc.status_code, "error")
                return failure(exc.status_code, code, exc.detail if isinstance(exc.detail, str) else code)
            except Exception:
                log.exception("unhandled error")
                return failure(500, "internal", "an unexpected error occurred; it has been logged")

        return enveloped


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": HypervideoError, "description": STATUS_CODES[status]}
    for status in (400, 401, 403, 404, 413, 415, 429, 503)
}
# A synchronous answer carries its outputs inline as data URLs up to this many bytes in all (Hypervideo's
# way); larger ones as signed URLs, rather than a JSON body of hundreds of megabytes.
INLINE_MAX_BYTES = 32 * 1024 * 1024
router = APIRouter(tags=[TAG], route_class=EnvelopedRoute, responses=ERRORS)


class Caller(BaseModel):
    organization: str
    key_id: str


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


async def _caller(request: Request, state: State, key: Annotated[str | None, Security(bearer)]) -> Caller:
    """`Authorization: Bearer <key>` → the key's organization (401 without a valid key) and identity."""
    org = authenticate(state.keys, key, request.headers.get("x-organization-id"))
    assert key is not None  # authenticate refused a missing key
    return Caller(organization=org, key_id=key_id(key))


CallerDep = Annotated[Caller, Depends(_caller)]


def _compat(caller: Caller) -> dict[str, str]:
    """What a job submitted here keeps (Job.compat): this API and the submitting key's identity."""
    return {"api": API, KEY: caller.key_id}


_FIELDS: dict[str, Any] = {
    "format": {"type": "string", "description": "one output: " + ", ".join(FORMATS)},
    "formats": {
        "type": "string",
        "description": "outputs: a JSON array (as the SDK sends it) or comma-separated",
    },
    "tolerance": {
        "type": "string",
        "description": "0–100 (default 30): how far from the colour is background",
    },
    "chromaKey": {
        "type": "string",
        "description": "JSON {r, g, b}: the colour to key out (default: detected)",
    },
    "fps": {"type": "string", "description": "1–60: output frame rate (never raised; default the input's)"},
    "quality": {"type": "string", "description": "0–100; for webp/apng, which this server does not make"},
    "webhookUrl": {"type": "string", "description": "Recast's signed webhooks (native events) go here"},
    "url": {"type": "string", "description": "an http(s) URL of the video, instead of a file"},
    "inputStorageId": {
        "type": "string",
        "description": "an upload_id from POST /v1/uploads, instead of a file",
    },
}
SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}, **_FIELDS},
                }
            },
            "application/json": {"schema": {"type": "object", "properties": _FIELDS}},
        },
    }
}


@router.post(
    "/api/v1/jobs/video/remove-background",
    status_code=202,
    response_model=HypervideoSubmitted,
    openapi_extra=SUBMIT_BODY,
    summary="Submit a background-removal job (Hypervideo)",
    responses={200: {"model": HypervideoSubmitted, "description": "The job this Idempotency-Key made"}},
)
async def submit(
    request: Request, caller: CallerDep, slot: SubmissionSlot, submissions: SubmissionsDep
) -> JSONResponse:
    """Multipart with a `file` part (or `url`, `inputStorageId`) and `format` or `formats`, as Hypervideo's
    SDK sends them. The background colour is detected unless `chromaKey` gives it."""
    job, created = await submissions.start(
        request, caller.organization, slot, JobCreate, translator(), file_field="file", compat=_compat(caller)
    )
    status = "queued" if created else job_data(job, {}).status
    body = {"success": True, "data": {"jobId": job.id, "status": status}}
    return JSONResponse(body, status_code=202 if created else 200)


@router.get(
    "/api/v1/jobs/{jobId}",
    response_model=HypervideoJob,
    summary="Get a job (Hypervideo)",
)
async def get_job(
    jobId: str,
    request: Request,
    caller: CallerDep,
    store: JobStoreDep,
    downloads: DownloadsDep,
) -> JSONResponse:
    """The job, if the key asking submitted it: another key's job is 404, as an unknown one. A poll, as
    `GET /v1/jobs/{id}`: while Temporal is slow a running job may be its last read (`Age` header);
    `Cache-Control: no-cache` waits for a fresh one."""
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    job = await store.get(jobId, caller.organization, stale_ok=not fresh)
    age = read_age.get()
    if job.compat != _compat(caller):  # another key's job, or one not made through these routes
        raise ApiError(404, "not-found", f"no job {jobId}")
    data = job_data(job, await downloads.job_links(job))
    headers = {"Age": str(int(age))} if age is not None else None
    return JSONResponse({"success": True, "data": json.loads(data.model_dump_json())}, headers=headers)


async def _inline(job: Job, storage: Storage, downloads: Downloads) -> dict[str, str]:
    """Each completed output as a base64 data URL (or, past INLINE_MAX_BYTES in all, a signed URL)."""
    done = [o for o in job.outputs if o.status is OutputStatus.completed]
    if sum(o.file_size_bytes or 0 for o in done) > INLINE_MAX_BYTES:
        return await downloads.job_links(job)
    urls = {}
    for out in done:
        data = await storage.read_bytes(
            output_key(job.organization, job.id, out.id, out.type.value, out.path)
        )
        if data is None:
            raise ApiError(503, "unavailable", f"output {out.id} is not in storage yet; try again")
        urls[out.id] = f"data:{out.content_type};base64,{base64.b64encode(data).decode()}"
    return urls


@router.post(
    "/api/v1/video/remove-background",
    response_model=HypervideoSyncResult,
    openapi_extra=SUBMIT_BODY,
    summary="Remove a video's background and wait for it (Hypervideo)",
    responses={
        422: {"model": HypervideoError, "description": "the job failed (INVALID_VIDEO, PROCESSING_FAILED…)"},
        202: {
            "model": HypervideoError,
            "description": "TIMEOUT: still running at RECAST_OPTIMIZE_WAIT; poll GET /api/v1/jobs/{jobId} "
            "(`details.jobId`, the Location header)",
        },
    },
)
async def remove_background(
    request: Request,
    caller: CallerDep,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    store: JobStoreDep,
    storage: StorageDep,
    downloads: DownloadsDep,
    settings: SettingsDep,
) -> JSONResponse:
    """The same fields as the async submission; answers when the job has ended (up to
    RECAST_OPTIMIZE_WAIT), with the outputs as base64 data URLs, as Hypervideo's sync endpoint does."""
    job, _ = await submissions.start(
        request, caller.organization, slot, JobCreate, translator(), file_field="file", compat=_compat(caller)
    )
    done = await store.wait(job.id, caller.organization, settings.optimize_wait_s)
    if done is None:
        # Accepted and still running: a 202 (the job goes on; not a server error), whose body the SDK
        # throws as a TIMEOUT error naming the job to poll.
        message = f"job {job.id} is still running after {settings.optimize_wait_s:g} s: poll GET /api/v1/jobs/{job.id}"
        body = {
            "success": False,
            "error": {"code": "TIMEOUT", "message": message, "details": {"jobId": job.id}},
        }
        return JSONResponse(body, status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})
    if done.status not in (JobStatus.completed, JobStatus.partial):
        error = job_data(done, {}).error
        raise ApiError(
            422, error.code if error else "PROCESSING_FAILED", error.message if error else "failed"
        )
    data = sync_result(done, await _inline(done, storage, downloads))
    # `outputs` is there only when several formats were asked (Hypervideo's `outputs?`).
    body = json.loads(data.model_dump_json())
    if body["outputs"] is None:
        del body["outputs"]
    return JSONResponse({"success": True, "data": body})

"""Convertly's async jobs, as drop-in routes: `POST /api/jobs`, the media tools (`POST /api/media/{tool}`,
synchronous or with `async=true`), `GET /api/jobs/{id}` and `DELETE /api/jobs/{id}`.

A thin adapter: Convertly's form fields are translated into a native submission and started by the
native submission service (same validation, limits, SSRF checks and idempotency keys); its jobs are
native jobs read from the native job store, shown in Convertly's shape (recast/core/convertly.py, which
the webhook activity also uses to sign callbacks the way Convertly does). Errors are Convertly's
`{"error": "<message>"}`, for these routes only. What is and is not supported: docs/compat/convertly.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from api.deps import (
    DownloadsDep,
    JobStoreDep,
    Organization,
    PolledJobDep,
    SettingsDep,
    SubmissionsDep,
    SubmissionSlot,
)
from api.errors import ApiError, describe_validation
from api.multipart_stream import StoredUpload
from recast.core import convertly
from recast.core.contract import UPDATE_CANCEL
from recast.core.job import Job, JobStatus
from recast.core.requests import JobCreate


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Convertly's error body: `{"error": "<message>"}` with the HTTP status."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ConvertlyRoute(APIRoute):
    """Every failure of these routes (the native ones raised below them too) in Convertly's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return error(exc.status, exc.message, exc.headers)
            except (RequestValidationError, ValidationError) as exc:
                return error(400, describe_validation(list(exc.errors())))
            except HTTPException as exc:
                return error(exc.status_code, str(exc.detail))

        return route


class ConvertlyError(BaseModel):
    """Convertly's error body."""

    error: str


class ConvertlyAccepted(BaseModel):
    """A queued job (a media tool's answer has `tool`)."""

    jobId: str
    status: str
    tool: str | None = None


OBJECT: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}


def _form(fields: dict[str, str], file_field: str) -> dict[str, Any]:
    """The OpenAPI request body of a Convertly form (the route reads it itself, streaming the file)."""
    properties: dict[str, Any] = {
        file_field: {"type": "string", "format": "binary", "description": "the input file"}
    }
    properties |= {name: {"type": "string", "description": text} for name, text in fields.items()}
    common = {
        "sourceUrl": "instead of the file: an http(s) URL to fetch",
        "callbackUrl": "receives the job's events, signed in Convertly-Signature",
        "callbackSecret": "key of the callback's HMAC",
    }
    properties |= {name: {"type": "string", "description": text} for name, text in common.items()}
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 128},
                "description": "The same key from the same organization returns the existing job.",
            }
        ],
    }


JOB_FORM = _form(
    {
        "formats": 'JSON array of output formats, e.g. ["webp"]',
        "compressions": "JSON array of qualities 1–100 for image formats",
        "resizes": 'JSON array: ["original"]',
        "saveToStorage": "accepted (every output is stored)",
        "jobType": "convert or compress",
        "createArchive": "false",
    },
    "files",
)
TOOL_FORM = _form(
    {
        "async": "true: queue the tool as a job and answer {jobId, status, tool} at once",
        "format": "the output format (extract-audio: mp3 …; poster-frame, thumbnail: jpg …; convert: mp4 …)",
        "bitrate": "extract-audio: kb/s",
        "timestamp": "poster-frame: the second the frame is taken from",
        "width": "poster-frame, thumbnail: target width",
        "height": "poster-frame, thumbnail: target height",
        "quality": "thumbnail: 1–100",
        "compressionLevel": "convert: 1–100",
        "resize": "convert: original",
    },
    "file",
)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ConvertlyError, "description": "Convertly's error body"}
    for code in (400, 401, 403, 404, 409, 410, 413, 415, 422, 429, 503)
}
router = APIRouter(tags=["compat: Convertly"], route_class=ConvertlyRoute, responses=ERRORS)

# Convertly formats → the native output each becomes.
VIDEO = {"mp4": "h264", "mov": "h264", "webm": "vp9"}
AUDIO = {"mp3": "mp3", "m4a": "m4a", "wav": "wav", "flac": "flac", "ogg": "opus", "opus": "opus"}
IMAGE = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# Fields Convertly clients send that change nothing here (every output is stored; a job is a job).
IGNORED = {"saveToStorage", "jobType", "async", "background", "folderId", "storageFolderId"}
TRUE = {"true", "1", "yes", "on"}


def _bool(value: object) -> bool:
    return str(value).strip().lower() in TRUE


def _list(raw: dict[str, object], name: str) -> list[Any]:
    """A form field holding a JSON array (`formats=["webp"]`), or one plain value."""
    value = raw.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ApiError(400, "invalid-input", f"{name}: not a valid JSON array") from exc
        if not isinstance(parsed, list):
            raise ApiError(400, "invalid-input", f"{name}: expected a JSON array")
        return parsed
    return [v.strip() for v in text.split(",") if v.strip()]


def _int(raw: dict[str, object], name: str, lo: float, hi: float) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(str(value))
    except ValueError as exc:
        raise ApiError(400, "invalid-input", f"{name}: must be a number") from exc
    if not lo <= number <= hi:
        raise ApiError(400, "invalid-input", f"{name}: must be between {lo:g} and {hi:g}")
    return round(number)


def format_output(
    fmt: str, compression: int | None = None, video_quality: str | None = None
) -> dict[str, Any]:
    """One Convertly output format → one native output spec."""
    fmt = fmt.strip().lower()
    if fmt in VIDEO:
        video: dict[str, Any] = {"codec": VIDEO[fmt]}
        if video_quality:
            video["quality"] = video_quality
        return {"type": fmt, "video": video}
    if fmt in AUDIO:
        return {"type": AUDIO[fmt]}
    if fmt in IMAGE:
        image = {"quality": compression} if compression is not None and IMAGE[fmt] != "png" else {}
        return {"type": IMAGE[fmt], "image": image}
    names = ", ".join(sorted({*VIDEO, *AUDIO, *IMAGE}))
    raise ApiError(400, "invalid-input", f"format {fmt!r} is not supported here; supported: {names}")


def _common(raw: dict[str, object], native: dict[str, object]) -> dict[str, object]:
    """The fields every Convertly submission may carry: the input URL and the callback."""
    if raw.get("sourceUrl"):
        native["input_url"] = raw["sourceUrl"]
    if raw.get("callbackUrl"):
        native["webhook_url"] = raw["callbackUrl"]
    if raw.get("callbackSecret"):
        native["webhook_secret"] = raw["callbackSecret"]
    return native


def _refuse_unknown(raw: dict[str, object], known: set[str]) -> None:
    unknown = sorted(set(raw) - known - IGNORED - {"sourceUrl", "callbackUrl", "callbackSecret"})
    # The native form reader adds its JSON fields' defaults (metadata, thumbnails): not the caller's.
    unknown = [u for u in unknown if raw.get(u) not in ({}, [])]
    if unknown:
        raise ApiError(400, "invalid-input", f"unsupported field(s): {', '.join(unknown)}")


def translate_job(raw: dict[str, object]) -> dict[str, object]:
    """`POST /api/jobs` form fields → a native submission: one output per entry of `formats`."""
    _refuse_unknown(raw, {"formats", "compressions", "resizes", "createArchive", "files"})
    formats = _list(raw, "formats")
    if not formats:
        raise ApiError(400, "invalid-input", 'formats: at least one output format is required, e.g. ["webp"]')
    compressions = _list(raw, "compressions")
    if any(not isinstance(c, int | float) or not 1 <= c <= 100 for c in compressions):
        raise ApiError(400, "invalid-input", "compressions: numbers from 1 to 100")
    resizes = _list(raw, "resizes")
    if any(r != "original" for r in resizes):
        raise ApiError(400, "invalid-input", 'resizes: only "original" is supported here')
    if _bool(raw.get("createArchive", "false")):
        raise ApiError(400, "invalid-input", "createArchive: archives are not supported here")

    def compression(i: int) -> int | None:
        if not compressions:
            return None
        return round(compressions[i] if i < len(compressions) else compressions[-1])

    outputs = [format_output(str(f), compression(i)) for i, f in enumerate(formats)]
    return _common(raw, {"outputs": outputs})


def _extract_audio(raw: dict[str, object]) -> dict[str, Any]:
    fmt = str(raw.get("format") or "mp3").lower()
    if fmt not in AUDIO:
        raise ApiError(400, "invalid-input", f"format: one of {', '.join(AUDIO)}")
    out: dict[str, Any] = {"type": AUDIO[fmt]}
    if (bitrate := _int(raw, "bitrate", 32, 320)) is not None and fmt not in ("wav", "flac"):
        out["audio"] = {"bitrate": bitrate}
    return out


def _poster_frame(raw: dict[str, object]) -> dict[str, Any]:
    fmt = str(raw.get("format") or "jpg").lower()
    if fmt not in IMAGE:
        raise ApiError(400, "invalid-input", f"format: one of {', '.join(IMAGE)}")
    image: dict[str, Any] = {"time": _int(raw, "timestamp", 0, 86400) or 0}
    for side in ("width", "height"):
        if (value := _int(raw, side, 16, 8192)) is not None:
            image[side] = value
    return {"type": IMAGE[fmt], "image": image}


def _thumbnail(raw: dict[str, object]) -> dict[str, Any]:
    fmt = str(raw.get("format") or "jpg").lower()
    if fmt not in IMAGE:
        raise ApiError(400, "invalid-input", f"format: one of {', '.join(IMAGE)}")
    image: dict[str, Any] = {}
    for side in ("width", "height"):
        if (value := _int(raw, side, 16, 8192)) is not None:
            image[side] = value
    if (quality := _int(raw, "quality", 1, 100)) is not None and IMAGE[fmt] != "png":
        image["quality"] = quality
    return {"type": IMAGE[fmt], "image": image}


def _convert(raw: dict[str, object]) -> dict[str, Any]:
    fmt = str(raw.get("format") or "").lower()
    if fmt not in VIDEO and fmt not in AUDIO:
        raise ApiError(400, "invalid-input", f"format: one of {', '.join([*VIDEO, *AUDIO])}")
    level = _int(raw, "compressionLevel", 1, 100)
    if str(raw.get("resize") or "original") != "original":
        raise ApiError(400, "invalid-input", 'resize: only "original" is supported here')
    # compressionLevel (1–100, higher keeps more) → the nearest native quality tier.
    quality = None if level is None else "economy" if level < 50 else "standard" if level < 85 else "premium"
    return format_output(fmt, video_quality=quality)


# tool → (its own fields, what output it makes)
TOOLS: dict[str, tuple[set[str], Callable[[dict[str, object]], dict[str, Any]]]] = {
    "extract-audio": ({"format", "bitrate", "file"}, _extract_audio),
    "poster-frame": ({"format", "timestamp", "width", "height", "file"}, _poster_frame),
    "thumbnail": ({"format", "width", "height", "quality", "file"}, _thumbnail),
    "convert": ({"format", "compressionLevel", "resize", "resizeWidth", "resizeHeight", "file"}, _convert),
}


def translate_tool(tool: str) -> Callable[[dict[str, object]], dict[str, object]]:
    known, make = TOOLS[tool]

    def translate(raw: dict[str, object]) -> dict[str, object]:
        _refuse_unknown(raw, known)
        return _common(raw, {"outputs": [make(raw)]})

    return translate


def _accepted(job: Job, created: bool, tool: str | None) -> JSONResponse:
    body: dict[str, object] = {"jobId": job.id, "status": convertly.status(job)}
    if tool:
        body["tool"] = tool
    # A repeated Idempotency-Key: the existing job, 200 rather than 202 (nothing new was queued).
    return JSONResponse(body, status_code=202 if created else 200)


async def _job_fields(raw: dict[str, object], _: StoredUpload | None) -> dict[str, object]:
    return translate_job(raw)


@router.post(
    "/api/jobs",
    summary="Convertly: create an async job",
    status_code=202,
    response_model=ConvertlyAccepted,
    openapi_extra=JOB_FORM,
    responses={200: {"model": ConvertlyAccepted, "description": "The job this Idempotency-Key already made"}},
)
async def create_job(
    request: Request, org: Organization, slot: SubmissionSlot, submissions: SubmissionsDep
) -> JSONResponse:
    """Multipart `files` (one file), `formats` (a JSON array), optional `compressions`, `sourceUrl`,
    `callbackUrl` and `callbackSecret`; `Idempotency-Key` returns the job that key already made."""
    job, created = await submissions.start(
        request,
        org,
        slot,
        JobCreate,
        file_field="files",
        translate=_job_fields,
        compat={"api": convertly.API, convertly.JOB_TYPE: "convert"},
    )
    return _accepted(job, created, None)


@router.post(
    "/api/media/{tool}",
    summary="Convertly: run a media tool (async=true queues it as a job)",
    response_model=None,
    openapi_extra=TOOL_FORM,
    responses={
        200: {
            "description": "The tool's files (`{jobId, files}`), or with async=true a job key's job",
            "content": OBJECT,
        },
        202: {"model": ConvertlyAccepted, "description": "Queued (async=true), or still running"},
    },
)
async def media_tool(
    tool: Annotated[
        str,
        # Published as an enum (the tools there are); any other name is a 404 in Convertly's shape.
        Path(description="The media tool.", json_schema_extra={"enum": list(TOOLS)}),
    ],
    request: Request,
    org: Organization,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    store: JobStoreDep,
    downloads: DownloadsDep,
    settings: SettingsDep,
) -> JSONResponse:
    """`file` or `sourceUrl`, the tool's fields, and `async=true` to queue it (→ `{jobId, status, tool}`);
    without it the answer waits for the files (→ `{files: [...]}`), like `POST /v1/optimize`."""
    if tool not in TOOLS:
        raise ApiError(
            404, "not-found", f"media tool {tool!r} is not available here; available: {', '.join(TOOLS)}"
        )
    queued = _bool(request.query_params.get("async", "")) or _bool(request.query_params.get("background", ""))
    fields: dict[str, object] = {}

    async def translate(raw: dict[str, object], _: StoredUpload | None) -> dict[str, object]:
        fields.update(raw)
        return translate_tool(tool)(raw)

    job, created = await submissions.start(
        request,
        org,
        slot,
        JobCreate,
        file_field="file",
        translate=translate,
        compat={"api": convertly.API, convertly.TOOL: tool},
    )
    if queued or _bool(fields.get("async", "")) or _bool(fields.get("background", "")):
        return _accepted(job, created, tool)
    done = await store.wait(job.id, org, settings.optimize_wait_s)
    if done is None:  # still running: answer as if it had been queued, with where to poll
        return JSONResponse(
            {"jobId": job.id, "status": "processing", "tool": tool},
            status_code=202,
            headers={"Location": f"/api/jobs/{job.id}"},
        )
    if done.status is not JobStatus.completed:
        view = convertly.job_view(done)
        return error(422, str(view["errorMessage"] or "the media tool failed"))
    urls = await downloads.job_links(done)
    size = done.input_metadata.file_size_bytes if done.input_metadata else None
    files = [convertly.result(o, size, urls.get(o.id)) for o in done.outputs]
    keep = ("filename", "mimeType", "originalSize", "finalSize", "downloadUrl")
    return JSONResponse({"jobId": done.id, "files": [{k: f[k] for k in keep} for f in files]})


@router.get(
    "/api/jobs/{job_id}",
    summary="Convertly: get a job",
    response_model=None,
    responses={200: {"description": "The job (docs/compat/convertly.md)", "content": OBJECT}},
)
async def get_job(job: PolledJobDep, org: Organization, downloads: DownloadsDep) -> dict[str, object]:
    """A poll, as `GET /v1/jobs/{id}` is: while Temporal is slow a running job may be its last read
    (`Age` header); `Cache-Control: no-cache` asks for a fresh one."""
    return convertly.job_view(job, await downloads.job_links(job))


@router.delete(
    "/api/jobs/{job_id}",
    summary="Convertly: cancel a queued job",
    response_model=None,
    responses={200: {"description": "The canceled job", "content": OBJECT}},
)
async def cancel_job(job_id: str, org: Organization, store: JobStoreDep) -> JSONResponse:
    """Only a pending job can be cancelled, as on Convertly: processing, completed and failed → 409."""
    job = await store.get(job_id, org)
    state = convertly.status(job)
    if state != "pending":
        raise ApiError(409, "conflict", f"the job is {state}: only pending jobs can be cancelled")
    return JSONResponse(convertly.job_view(await store.control(job, UPDATE_CANCEL)))

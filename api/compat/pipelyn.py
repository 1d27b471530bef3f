"""Pipelyn's async jobs API (docs/compat/pipelyn.md): `POST /api/media/jobs`, `GET /api/media/jobs/:id`,
its `/download`, and the synchronous `POST /api/media/optimize` it refers to.

A thin adapter: the multipart form (`media`, `preset`) becomes a native submission (same streaming upload,
checks, limits and workflow as `POST /v1/jobs`), and the native Job is read back in Pipelyn's camelCase
shape. Pipelyn's error body, `{"error": {"message", "code"}}` with the codes of its table
(`invalid-input`, `not-found`, `not-ready`), is the native one, so the native error handler serves it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.deps import (
    BaseUrl,
    JobDep,
    JobStoreDep,
    Organization,
    SettingsDep,
    StorageDep,
    SubmissionsDep,
    SubmissionSlot,
)
from api.errors import ERROR_RESPONSES, ApiError, error_responses
from api.limits import RATE_LIMITED
from api.multipart_stream import StoredUpload
from api.services import files
from api.services.downloads import completed_output
from recast.core import presets
from recast.core.formats import OutputType
from recast.core.job import Job, JobStatus, Output, OutputStatus
from recast.core.requests import OptimizeCreate
from recast.infra.downloads import grant_for
from recast.infra.storage import Storage

router = APIRouter(prefix="/api/media", tags=["compat: Pipelyn"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]

DEFAULT_PRESET = "web"
# The job's Pipelyn preset, kept in the native job's metadata (a Pipelyn form has no metadata of its own).
PRESET_KEY = "pipelyn_preset"
DOWNLOAD_TTL_S = 3600  # "Pre-signed S3 URL (1 h TTL)"
IMAGE_EXTENSIONS = {"jpg", "jpeg", "png", "webp", "avif", "gif", "bmp", "tif", "tiff", "heic", "heif"}
AUDIO_EXTENSIONS = {"mp3", "m4a", "aac", "wav", "flac", "ogg", "oga", "opus", "wma", "aiff", "aif"}

# Pipelyn's presets by kind of input. `low-bandwidth` on a video is what Pipelyn's own example shows
# (VP9 WebM, 720 px wide); `web` is Recast's `web` preset. Audio and images get the closest outputs.
PIPELYN_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "web": {
        "video": presets.expand("web"),
        "audio": {"type": "m4a", "audio": {"bitrate": 128}},
        "image": {"type": "webp", "image": {"quality": 80}},
    },
    "low-bandwidth": {
        "video": {
            "type": "webm",
            "video": {"codec": "vp9", "width": 720, "quality": "economy"},
            "audio": {"bitrate": 64},
        },
        "audio": {"type": "opus", "audio": {"bitrate": 48, "channels": 1}},
        "image": {"type": "webp", "image": {"width": 720, "quality": 60}},
    },
}
NATIVE_DEFAULTS = ("metadata", "thumbnails")
FOLDER_TYPES = {OutputType.hls, OutputType.dash, OutputType.thumbnails}


class PipelynError(BaseModel):
    message: str
    code: str


class PipelynResult(BaseModel):
    """The report of a finished job: what the synchronous /optimize answers, in Pipelyn's names."""

    kind: str
    strategy: str | None
    contentType: str | None
    filename: str
    outputBytes: int | None
    savedBytes: int | None
    savedPercent: float | None
    inputDurationSec: float | None
    outputDurationSec: float | None
    inputWidth: int | None
    outputWidth: int | None


class PipelynJob(BaseModel):
    jobId: str
    status: Literal["pending", "processing", "done", "failed"]
    createdAt: int = Field(description="Milliseconds since the epoch.")
    preset: str | None = None
    filename: str | None = None
    inputBytes: int | None = None
    result: PipelynResult | None = Field(default=None, description='When status is "done".')
    downloadUrl: str | None = Field(default=None, description='When status is "done".')
    error: PipelynError | None = Field(default=None, description='When status is "failed".')


FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["media"],
                    "properties": {
                        "media": {
                            "type": "string",
                            "format": "binary",
                            "description": "the file to optimize",
                        },
                        "preset": {
                            "type": "string",
                            "description": "web (default), low-bandwidth, or a single-file Recast preset",
                        },
                    },
                }
            }
        },
    }
}
SUBMIT_ERRORS = {429: RATE_LIMITED, **error_responses(415)}


def _kind(filename: str) -> str:
    """video, audio or image, by the media part's file name: the output is chosen at submission, before
    the input is probed (a wrong guess fails the job with the probe's error, never a wrong output)."""
    ext = PurePosixPath(filename).suffix.lower().lstrip(".")
    if ext in IMAGE_EXTENSIONS:
        return "image"
    return "audio" if ext in AUDIO_EXTENSIONS else "video"


def output_for(preset: str, filename: str) -> dict[str, Any]:
    """The native output spec of a Pipelyn preset for this input; 400 `invalid-input` for an unknown one."""
    if preset in PIPELYN_PRESETS:
        return PIPELYN_PRESETS[preset][_kind(filename)]
    if preset in presets.CATALOG:
        spec = presets.expand(preset)
        if OutputType(spec["type"]) not in FOLDER_TYPES:  # a folder has no one file to download
            return {"preset": preset}
    known = ", ".join([*PIPELYN_PRESETS, *(p for p in presets.CATALOG if p not in PIPELYN_PRESETS)])
    raise ApiError(
        400, "invalid-input", f"preset: unknown or not a single-file preset {preset[:64]!r}; known: {known}"
    )


async def translate(raw: dict[str, object], upload: StoredUpload | None) -> dict[str, object]:
    """Pipelyn's form → a native submission's fields."""
    # The native form reader fills in `metadata` and `thumbnails` when the form has none.
    unknown = sorted(
        k for k, v in raw.items() if k != "preset" and not (k in NATIVE_DEFAULTS and v in ({}, []))
    )
    if unknown:
        raise ApiError(400, "invalid-input", f"unsupported form fields: {', '.join(unknown)} (media, preset)")
    # A `media` part without a file name is a text field, not a file (the stream names it "upload").
    if upload is None or upload.filename == "upload":
        raise ApiError(400, "invalid-input", "media: a file part named media is required")
    preset = str(raw.get("preset") or DEFAULT_PRESET).strip()
    return {"outputs": [output_for(preset, upload.filename)], "metadata": {PRESET_KEY: preset}}


def _status(job: Job) -> Literal["pending", "processing", "done", "failed"]:
    if job.status is JobStatus.completed:
        return "done"
    if job.status.terminal:  # failed, partial (one output: never), canceled
        return "failed"
    return "pending" if job.status is JobStatus.pending else "processing"


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _seconds(ms: int | None) -> float | None:
    if ms is None:
        return None
    s = round(ms / 1000, 2)
    return int(s) if s == int(s) else s


def output_filename(job: Job, out: Output) -> str:
    """Pipelyn names the output after the input with the output's extension: clip.mp4 → clip.webm."""
    stem = PurePosixPath(job.input.filename or "output").stem or "output"
    ext = "jpg" if out.type is OutputType.jpg else out.type.value
    return f"{stem}.{ext}"


def result(job: Job, out: Output) -> PipelynResult:
    meta = job.input_metadata
    input_bytes = out.input_bytes or (meta.file_size_bytes if meta else None)
    percent = None
    if input_bytes and out.output_bytes is not None:
        percent = round(100 * (input_bytes - out.output_bytes) / input_bytes, 2)
    return PipelynResult(
        kind=meta.kind.value if meta else "video",
        strategy=out.strategy,
        contentType=out.content_type,
        filename=output_filename(job, out),
        outputBytes=out.output_bytes,
        savedBytes=out.saved_bytes,
        savedPercent=percent,
        inputDurationSec=_seconds(out.input_duration_ms),
        outputDurationSec=_seconds(out.duration_ms),
        inputWidth=out.input_width,
        outputWidth=out.width,
    )


async def pipelyn_job(job: Job, org: str, storage: Storage, base_url: str) -> PipelynJob:
    """The native Job as Pipelyn's job object (its first output is the one a Pipelyn job makes)."""
    out = job.outputs[0] if job.outputs else None
    body = PipelynJob(
        jobId=job.id,
        status=_status(job),
        createdAt=_millis(job.created_at),
        preset=job.metadata.get(PRESET_KEY) or (out.preset if out else None),
        filename=job.input.filename,
        inputBytes=job.input.size or (job.input_metadata.file_size_bytes if job.input_metadata else None),
    )
    if body.status == "done" and out is not None and out.status is OutputStatus.completed:
        body.result = result(job, out)
        if job.outputs_expired:  # deleted RECAST_OUTPUT_TTL after the job ended: nothing to download
            return body
        grant = grant_for(org, job.id, out, DOWNLOAD_TTL_S)
        name, kind = output_filename(job, out), grant.content_type
        # The store's own pre-signed GET (S3, GCS), else the download route of this API (local storage).
        presigned = None if out.files else await storage.download_url(grant.key, name, kind, DOWNLOAD_TTL_S)
        body.downloadUrl = presigned or f"{base_url}/api/media/jobs/{job.id}/download"
    elif body.status == "failed":
        code = job.error_code or (out.error_code if out else None) or job.status.value
        message = (
            job.error_message or (out.error_message if out else None) or f"the job was {job.status.value}"
        )
        body.error = PipelynError(message=message, code=code)
    return body


def _answer(body: PipelynJob, status: int) -> JSONResponse:
    # `result`, `downloadUrl` and `error` are present only in the states the document names; a result's
    # own fields are always there (null when they do not apply, e.g. the width of audio).
    fields = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    return JSONResponse(fields, status_code=status)


@router.post(
    "/jobs",
    status_code=202,
    response_model=PipelynJob,
    openapi_extra=FORM_BODY,
    summary="Submit a media optimization job (Pipelyn)",
    responses=SUBMIT_ERRORS,  # type: ignore[arg-type]
)
async def submit(
    request: Request,
    org: Organization,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    storage: StorageDep,
    base_url: BaseUrl,
) -> JSONResponse:
    """Multipart `media` (the file) and `preset` (default `web`); answers 202 at once with the job ID."""
    job, created = await submissions.start(request, org, slot, OptimizeCreate, translate)
    return _answer(await pipelyn_job(job, org, storage, base_url), 202 if created else 200)


@router.get(
    "/jobs/{job_id}",
    response_model=PipelynJob,
    summary="Poll a job (Pipelyn)",
)
async def get_job(job: JobDep, org: Organization, storage: StorageDep, base_url: BaseUrl) -> JSONResponse:
    return _answer(await pipelyn_job(job, org, storage, base_url), 200)


@router.get(
    "/jobs/{job_id}/download",
    summary="Download a finished job's output (Pipelyn)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the output file"},
        **error_responses(409, 410),
    },
)
async def download(job: JobDep, org: Organization, request: Request, storage: StorageDep) -> Response:
    """Streams the stored output with `Content-Disposition: attachment` and `Cache-Control: no-store`;
    409 `not-ready` before the job is done."""
    if not job.outputs or _status(job) != "done":
        raise ApiError(409, "not-ready", f"job {job.id} is {_status(job)}, not done")
    out = completed_output(job, job.outputs[0].id)
    if out.files:
        raise ApiError(409, "not-ready", f"job {job.id} made a folder of files: use GET /v1/jobs/{job.id}")
    grant = grant_for(org, job.id, out, DOWNLOAD_TTL_S)
    disposition = files.content_disposition(output_filename(job, out))
    response = await files.stream(request, storage, grant.key, grant.content_type, disposition)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(
    "/optimize",
    response_model=PipelynJob,
    openapi_extra=FORM_BODY,
    summary="Optimize a file and wait for the result (Pipelyn)",
    responses={
        202: {
            "model": PipelynJob,
            "description": "Still running at the wait limit: poll /api/media/jobs/:id",
        },
        422: {"description": "the job failed: `code` is its error code"},
        **SUBMIT_ERRORS,
    },
)
async def optimize(
    request: Request,
    org: Organization,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    store: JobStoreDep,
    storage: StorageDep,
    settings: SettingsDep,
    base_url: BaseUrl,
) -> JSONResponse:
    """The same form as `POST /api/media/jobs`, answered when the job ends (up to RECAST_OPTIMIZE_WAIT):
    200 with the done job (its `result` and `downloadUrl`), 202 with the job still running, 422 with
    the error of a failed one."""
    job, _ = await submissions.start(request, org, slot, OptimizeCreate, translate)
    done = await store.wait(job.id, org, settings.optimize_wait_s)
    body = await pipelyn_job(done or await store.get(job.id, org), org, storage, base_url)
    if body.status == "done":
        return _answer(body, 200)
    if body.status == "failed" and body.error is not None:
        raise ApiError(422, body.error.code, f"job {job.id} failed: {body.error.message}")
    return _answer(body, 202)

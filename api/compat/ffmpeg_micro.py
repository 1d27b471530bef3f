"""FFmpeg Micro's transcodes API (docs/compat/ffmpeg-micro.md): `POST /v1/transcodes`,
`GET /v1/transcodes/{id}` and `GET /v1/transcodes/{id}/download`, so its create → poll → download
helpers (`client.mjs`) work against Recast with only the base URL and key changed.

A thin adapter: the JSON body (`inputs` of 1–10 `{url}`, `outputFormat`, `preset {quality, resolution}`)
becomes a native submission (same checks, limits, SSRF rules and workflow as `POST /v1/jobs`; several
inputs are joined in order), and the native Job is read back in FFmpeg Micro's snake_case shape. The
lesson shows no error body (its helpers print whatever JSON comes back), so errors keep the native
`{"error": {"code", "message"}}` and the native error handler serves them.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import DownloadsDep, JobDep, Organization, StorageDep, SubmissionsDep, SubmissionSlot
from api.errors import ERROR_RESPONSES, ApiError, describe_validation, error_responses
from api.limits import RATE_LIMITED
from api.multipart_stream import StoredUpload
from api.services.downloads import completed_output
from recast.core.job import Job, JobStatus, OutputStatus
from recast.core.requests import MAX_INPUTS, OptimizeCreate
from recast.infra.downloads import grant_for
from recast.infra.storage import Storage

router = APIRouter(prefix="/v1", tags=["compat: FFmpeg Micro"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]

DOWNLOAD_TTL_S = 600  # "That URL expires after 10 minutes"
QUALITY = {"high": "premium", "medium": "standard", "low": "economy"}
RESOLUTION = {"480p": "480p", "720p": "720p", "1080p": "1080p", "4k": "2160p"}
# The video codec of each container FFmpeg Micro can write (WebM holds VP9; the rest H.264); audio-only
# formats take no video.
VIDEO_FORMATS = {"mp4": "h264", "mov": "h264", "mkv": "h264", "webm": "vp9"}
Status = Literal["pending", "queued", "processing", "completed", "failed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TranscodeInput(_Strict):
    url: str = Field(max_length=4096, description="http(s)://, gs://, s3:// or upload:// (Recast's uploads).")


class TranscodePreset(_Strict):
    quality: Literal["high", "medium", "low"] | None = None
    resolution: Literal["480p", "720p", "1080p", "4k"] | None = None


class TranscodeCreate(_Strict):
    inputs: list[TranscodeInput] = Field(min_length=1, max_length=MAX_INPUTS)
    outputFormat: Literal["mp4", "webm", "mov", "mkv", "mp3", "m4a", "opus", "wav", "flac"]
    preset: TranscodePreset | None = None


class Transcode(BaseModel):
    id: str
    status: Status
    output_url: str | None = Field(description="Where the output is stored (not a download URL).")
    output_format: str | None
    duration_seconds: float | None
    processing_time_seconds: int | None
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None


class DownloadUrl(BaseModel):
    url: str = Field(description="Signed; expires 10 minutes after it was issued.")


def _flat(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined, to sit in the OpenAPI as a request body."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)  # type: ignore[no-any-return]


BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _flat(TranscodeCreate.model_json_schema())}},
    }
}


def native_fields(req: TranscodeCreate) -> dict[str, object]:
    """A transcode request as a native submission's fields: one output, from one input or several joined."""
    fmt = req.outputFormat
    output: dict[str, Any] = {"type": fmt}
    if fmt in VIDEO_FORMATS:
        video: dict[str, Any] = {"codec": VIDEO_FORMATS[fmt]}
        if req.preset and req.preset.quality:
            video["quality"] = QUALITY[req.preset.quality]
        if req.preset and req.preset.resolution:
            video["resolution"] = RESOLUTION[req.preset.resolution]
        output["video"] = video
    urls = [i.url for i in req.inputs]
    source: dict[str, object] = {"input_url": urls[0]} if len(urls) == 1 else {"inputs": urls}
    return {**source, "outputs": [output]}


async def translate(raw: dict[str, object], upload: StoredUpload | None) -> dict[str, object]:
    if upload is not None:
        raise ApiError(400, "invalid-input", "send JSON: inputs are URLs, not file parts")
    try:
        req = TranscodeCreate.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, "invalid-input", describe_validation(list(exc.errors()))) from exc
    return native_fields(req)


def _status(job: Job) -> Status:
    if job.status is JobStatus.completed:
        return "completed"
    if job.status.terminal:  # failed, partial (one output: never), canceled (through the native API)
        return "failed"
    return "queued" if job.status is JobStatus.pending else "processing"


def _location(storage: Storage, key: str) -> str:
    """The output's place in storage, as FFmpeg Micro's `output_url` is its bucket path: `s3://` or
    `gs://bucket/key` on object stores (usable as another transcode's input), `fs://key` locally."""
    if storage.presigns:
        return f"{storage.scheme}://{storage.bucket}/" + "/".join(p for p in (storage.prefix, key) if p)
    return f"{storage.scheme}://{key}"


def transcode(job: Job, storage: Storage, fresh: bool = False) -> Transcode:
    """The native Job as FFmpeg Micro's transcode; `fresh`: the create call's answer, `pending`."""
    out = job.outputs[0] if job.outputs else None
    status: Status = "pending" if fresh and not job.status.terminal else _status(job)
    done = status == "completed" and out is not None and out.status is OutputStatus.completed
    error = None
    if status == "failed":
        error = job.error_message or (out.error_message if out else None) or f"the job was {job.status.value}"
    processing = None
    if job.started_at and job.completed_at:
        processing = round((job.completed_at - job.started_at).total_seconds())
    elif job.completed_at and job.execution.total_duration_ms is not None:
        processing = round(job.execution.total_duration_ms / 1000)
    return Transcode(
        id=job.id,
        status=status,
        output_url=_location(storage, grant_for(job.organization, job.id, out, 1).key)
        if done and out
        else None,
        output_format=out.type.value if out else None,
        duration_seconds=round(out.duration_ms / 1000, 2) if done and out and out.duration_ms else None,
        processing_time_seconds=processing,
        error_message=error,
        created_at=job.created_at,
        completed_at=job.completed_at,
    )


@router.post(
    "/transcodes",
    status_code=201,
    response_model=Transcode,
    openapi_extra=BODY,
    summary="Create a transcode (FFmpeg Micro)",
    responses={
        200: {"model": Transcode, "description": "The transcode this Idempotency-Key already created"},
        429: RATE_LIMITED,
        **error_responses(410, 415),  # an expired upload:// input; not JSON
    },
)
async def create(
    request: Request,
    org: Organization,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    storage: StorageDep,
) -> JSONResponse:
    """`inputs` (1–10 `{url}`, joined in order), `outputFormat`, optional `preset {quality, resolution}`;
    answers at once with the transcode, `pending`."""
    job, created = await submissions.start(request, org, slot, OptimizeCreate, translate)
    body = transcode(job, storage, fresh=created)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/transcodes/{job_id}", response_model=Transcode, summary="Get a transcode (FFmpeg Micro)")
async def get_transcode(job: JobDep, storage: StorageDep) -> Transcode:
    return transcode(job, storage)


@router.get(
    "/transcodes/{job_id}/download",
    response_model=DownloadUrl,
    summary="Get a signed download URL of a completed transcode (FFmpeg Micro)",
    description="The URL expires after 10 minutes: ask again for a fresh one. Not completed → 409 `not-ready`.",
    responses=error_responses(410),  # type: ignore[arg-type]
)
async def download_url(job: JobDep, org: Organization, downloads: DownloadsDep) -> DownloadUrl:
    if not job.outputs:
        raise ApiError(409, "not-ready", f"transcode {job.id} has no output")
    out = completed_output(job, job.outputs[0].id)  # 409 not-ready, 410 expired
    ten_minutes = dataclasses.replace(downloads, ttl_s=DOWNLOAD_TTL_S)
    link = await ten_minutes.link(org, job.id, out, job.outputs_expire_at)
    return DownloadUrl(url=link.url)

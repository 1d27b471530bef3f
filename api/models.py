"""The API's own request and response bodies (the Job and what a job is made of are in recast/core).

Shared by the routes and the services that build them, so neither imports the other for a model;
the class names are the OpenAPI schema names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from recast.core.job import InputMetadata, Job, Output
from recast.core.payloads import DownloadFile
from recast.core.specs import OutputSpec, Strict


class DownloadLink(BaseModel):
    url: str = Field(description="The file; for a folder output (hls, dash, thumbnails) its entry file.")
    expires_at: datetime
    files: list[DownloadFile] = Field(
        default_factory=list, description="Folder outputs: every file, each under the same token."
    )


class JobList(BaseModel):
    data: list[Job] = Field(description="The jobs of this page, newest first (by `created_at`).")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    total_count: int = Field(description="How many jobs match (all pages), `status` included.")


EventName = Literal["snapshot", "progress", "status_change", "heartbeat", "completed"]


class JobEvent(BaseModel):
    """One event of `GET /v1/jobs/{id}/events`, always carrying the whole Job as it stands."""

    event: EventName = Field(
        description="`snapshot` first; `progress` (at most one per 200 ms); `status_change`; "
        "`heartbeat` every RECAST_EVENTS_HEARTBEAT seconds; `completed` once the job is completed, "
        "partial, failed or canceled, after which the stream ends."
    )
    job: Job
    server_time: datetime


class OptimizeResult(BaseModel):
    """A finished optimize call: what went in, what came out, where to get it."""

    job_id: str
    input: InputMetadata = Field(description="The input as probed: file_size_bytes, duration_ms, width, …")
    output: Output = Field(
        description="The output's report: strategy, content_type, filename, file_size_bytes, saved_bytes, "
        "saved_percent, duration_ms, width, height, …"
    )
    download: DownloadLink


class PresetInfo(BaseModel):
    name: str
    description: str
    output: OutputSpec = Field(description='What `{"preset": name}` in `outputs` stands for.')


class PresetList(BaseModel):
    data: list[PresetInfo]
    default: str = Field(description="The preset POST /v1/optimize makes when no output is given.")


class UploadCreate(Strict):
    filename: str = Field(
        min_length=1, max_length=255, description="The file's name (sanitized for storage)."
    )
    size: int = Field(ge=1, description="Exact size in bytes; at most RECAST_MAX_UPLOAD_BYTES.")
    content_type: str = Field(default="application/octet-stream", max_length=127)


class UploadTicket(BaseModel):
    upload_id: str
    url: str = Field(description="Where to send the bytes, with `method` and `headers`.")
    method: str
    headers: dict[str, str]
    expires_at: datetime = Field(description="Until when `url` accepts the upload.")
    input_url: str = Field(description="`upload://{upload_id}`: the job's input_url once the upload is done.")
    resumable: bool = Field(
        description="True for the gateway route: `Content-Range` parts, `HEAD` for how much arrived."
    )


class TusUpload(BaseModel):
    """The body of `POST /v1/tus/` (tus clients read only its headers: `Location`)."""

    upload_id: str
    location: str = Field(description="The upload's URL: `HEAD` it, `PATCH` bytes to it, `DELETE` it.")
    input_url: str = Field(description="`upload://{upload_id}`: the job's input_url once the upload is done.")
    size: int
    expires_at: datetime = Field(description="Until when the upload can be continued.")


class UploadProgress(BaseModel):
    upload_id: str
    received: int
    size: int
    complete: bool
    input_url: str

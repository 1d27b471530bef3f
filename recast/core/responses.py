"""The API's response bodies a client reads besides the Job: a page of jobs, a watch event, a download
link, an upload ticket and its progress, a batch with a page of its jobs, the list of templates. Defined here, not in api/, so the Python SDK
(`recast.client`) parses exactly what the API sends with the same models (api/models.py re-exports
them). Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from recast.core.batches import Batch
from recast.core.job import Job
from recast.core.payloads import DownloadFile
from recast.core.specs import Strict
from recast.core.templates import Template


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


class UploadProgress(BaseModel):
    upload_id: str
    received: int
    size: int
    complete: bool
    input_url: str


class TemplateList(BaseModel):
    data: list[Template] = Field(description="The organization's templates, each at its latest version.")


class BatchWithJobs(Batch):
    """A batch with one page of its jobs, newest first (`next_cursor` reads the next page)."""

    jobs: list[Job]
    next_cursor: str | None = None

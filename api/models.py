"""The API's own request and response bodies (the Job and what a job is made of are in recast/core).

Shared by the routes and the services that build them, so neither imports the other for a model;
the class names are the OpenAPI schema names. The bodies a client reads (a page of jobs, events,
download links, uploads) are defined in recast/core/responses.py, where the Python SDK shares them,
and re-exported here.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from recast.core.batches import Batch
from recast.core.job import InputMetadata, Job, Output
from recast.core.responses import (
    DownloadLink,
    EventName,
    JobEvent,
    JobList,
    UploadCreate,
    UploadProgress,
    UploadTicket,
)
from recast.core.specs import OutputSpec
from recast.core.templates import Template

__all__ = [
    "DownloadLink",
    "EventName",
    "JobEvent",
    "JobList",
    "OptimizeResult",
    "PresetInfo",
    "PresetList",
    "TusUpload",
    "UploadCreate",
    "UploadProgress",
    "UploadTicket",
]


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


class TemplateList(BaseModel):
    data: list[Template] = Field(description="The organization's templates, each at its latest version.")


class BatchWithJobs(Batch):
    """A batch with one page of its jobs, newest first (`next_cursor` reads the next page)."""

    jobs: list[Job]
    next_cursor: str | None = None


class TusUpload(BaseModel):
    """The body of `POST /v1/tus/` (tus clients read only its headers: `Location`)."""

    upload_id: str
    location: str = Field(description="The upload's URL: `HEAD` it, `PATCH` bytes to it, `DELETE` it.")
    input_url: str = Field(description="`upload://{upload_id}`: the job's input_url once the upload is done.")
    size: int
    expires_at: datetime = Field(description="Until when the upload can be continued.")

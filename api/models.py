"""The API's own request and response bodies (the Job and what a job is made of are in recast/core).

Shared by the routes and the services that build them, so neither imports the other for a model;
the class names are the OpenAPI schema names. The bodies a client reads (a page of jobs, events,
download links, uploads, a batch with a page of its jobs, the templates) are defined in
recast/core/responses.py, where the Python SDK shares them, and re-exported here.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from recast.core.job import InputMetadata, Output
from recast.core.responses import (
    BatchWithJobs,
    DownloadLink,
    EventName,
    JobEvent,
    JobList,
    TemplateList,
    UploadCreate,
    UploadProgress,
    UploadTicket,
)
from recast.core.specs import OutputSpec

__all__ = [
    "BatchWithJobs",
    "DownloadLink",
    "EventName",
    "JobEvent",
    "JobList",
    "OptimizeResult",
    "PresetInfo",
    "PresetList",
    "TemplateList",
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


class TusUpload(BaseModel):
    """The body of `POST /v1/tus/` (tus clients read only its headers: `Location`)."""

    upload_id: str
    location: str = Field(description="The upload's URL: `HEAD` it, `PATCH` bytes to it, `DELETE` it.")
    input_url: str = Field(description="`upload://{upload_id}`: the job's input_url once the upload is done.")
    size: int
    expires_at: datetime = Field(description="Until when the upload can be continued.")

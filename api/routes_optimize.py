"""`POST /v1/optimize`: one output, synchronously, for small files.

The request is a job submission like `POST /v1/jobs` (same form or JSON, one output) and starts the
same workflow; the route then waits for the workflow's result — up to RECAST_OPTIMIZE_WAIT, or less
with `?wait=` — and answers with the output's report and a download link. A job still running at the
limit is answered 202 with the Job, to be polled at `GET /v1/jobs/{id}` (the `Location` header).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import organization
from api.errors import ERROR_RESPONSES, ErrorResponse, error_response, error_responses
from api.job_store import JobStore
from api.limits import RATE_LIMITED, Slot, submission_slot
from api.routes_jobs import SUBMIT_BODY, DownloadLink, sign_download, start_job
from recast.core import presets
from recast.core.job import InputMetadata, Job, JobStatus, Output, OutputStatus
from recast.core.requests import OptimizeCreate

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)  # type: ignore[arg-type]


def _optimize_body() -> dict[str, Any]:
    """POST /v1/jobs' body, with OptimizeCreate's JSON schema and the form's `outputs` optional."""
    body: dict[str, Any] = copy.deepcopy(SUBMIT_BODY)
    content = body["requestBody"]["content"]
    content["application/json"]["schema"]["$ref"] = "#/components/schemas/OptimizeCreate"
    form = content["multipart/form-data"]["schema"]
    form["required"] = ["media"]
    form["properties"]["outputs"]["description"] = (
        f"JSON array of one output, as in OptimizeCreate; omitted: the `{presets.DEFAULT}` preset"
    )
    del form["properties"]["delayed_start"]
    return body


class OptimizeResult(BaseModel):
    """A finished optimize call: what went in, what came out, where to get it."""

    job_id: str
    input: InputMetadata = Field(description="The input as probed: file_size_bytes, duration_ms, width, …")
    output: Output = Field(
        description="The output's report: strategy, content_type, filename, file_size_bytes, saved_bytes, "
        "saved_percent, duration_ms, width, height, …"
    )
    download: DownloadLink


@router.post(
    "/optimize",
    response_model=OptimizeResult,
    openapi_extra=_optimize_body(),
    summary="Make one output and wait for it",
    responses={
        202: {
            "model": Job,
            "description": "Still running at the wait limit: poll GET /v1/jobs/{id} (the Location header)",
        },
        409: {
            "model": ErrorResponse,
            "description": "the job was canceled meanwhile (`canceled`), or a conflict as in POST /v1/jobs",
        },
        422: {
            "model": ErrorResponse,
            "description": "the job failed: `code` is its error_code (e.g. invalid-media, no-video-stream, "
            "too-long, output-mismatch), the message says why and names the job",
        },
        429: RATE_LIMITED,
        **error_responses(415),
    },
)
async def optimize(
    request: Request,
    org: str = Depends(organization),
    slot: Slot = Depends(submission_slot),
    wait: float | None = Query(
        default=None,
        ge=0,
        le=86400,
        description="Seconds to wait for the result before answering 202; at most (and by default) "
        "RECAST_OPTIMIZE_WAIT.",
    ),
) -> OptimizeResult | JSONResponse:
    """The same multipart form (or JSON body) as `POST /v1/jobs`, with one output (default: the `web`
    preset). 200 with the result once the job has completed; 202 with the Job if it is still running
    at the wait limit; 422 with the job's error_code if it failed."""
    store: JobStore = request.app.state.jobs
    limit: float = request.app.state.settings.optimize_wait_s
    job, _ = await start_job(request, org, slot, OptimizeCreate)
    location = {"Location": f"/v1/jobs/{job.id}"}
    done = await store.wait(job.id, org, limit if wait is None else min(wait, limit))
    if done is None:
        current = await store.get(job.id, org)  # with live progress
        return JSONResponse(current.model_dump(mode="json"), status_code=202, headers=location)
    out = done.outputs[0]
    if done.status is JobStatus.completed and out.status is OutputStatus.completed:
        assert done.input_metadata is not None  # a completed job was probed
        download = await sign_download(request, org, done.id, out)
        return OptimizeResult(job_id=done.id, input=done.input_metadata, output=out, download=download)
    code = done.error_code or out.error_code or "internal"
    message = f"job {done.id} {done.status.value}: {done.error_message or out.error_message or code}"
    if done.status is JobStatus.canceled:
        return error_response(409, code, message, headers=location)
    return error_response(422, code, message, headers=location)

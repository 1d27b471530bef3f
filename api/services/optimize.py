"""`POST /v1/optimize` after its job has started: wait for the result, up to a limit, and answer with
the output and a download link, the still-running Job (202), or the job's failure."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from api.errors import error_response
from api.job_store import JobStore
from api.models import OptimizeResult
from api.services.downloads import Downloads
from recast.core.job import Job, JobStatus, OutputStatus


async def outcome(
    store: JobStore, downloads: Downloads, job: Job, org: str, wait_s: float
) -> OptimizeResult | JSONResponse:
    """200 with the result once the job has completed; 202 with the Job if it is still running after
    `wait_s`; 409 if it was canceled, 422 with its error_code if it failed. Every answer but the 200
    has `Location: /v1/jobs/{id}`."""
    location = {"Location": f"/v1/jobs/{job.id}"}
    done = await store.wait(job.id, org, wait_s)
    if done is None:
        current = await store.get(job.id, org)  # with live progress
        return JSONResponse(current.model_dump(mode="json"), status_code=202, headers=location)
    out = done.outputs[0]
    if done.status is JobStatus.completed and out.status is OutputStatus.completed:
        assert done.input_metadata is not None  # a completed job was probed
        download = await downloads.link(org, done.id, out)
        return OptimizeResult(job_id=done.id, input=done.input_metadata, output=out, download=download)
    code = done.error_code or out.error_code or "internal"
    message = f"job {done.id} {done.status.value}: {done.error_message or out.error_message or code}"
    if done.status is JobStatus.canceled:
        return error_response(409, code, message, headers=location)
    return error_response(422, code, message, headers=location)

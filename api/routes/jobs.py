"""`/v1/jobs`: submit, list, read, cancel, confirm, and download links for finished outputs."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import (
    BaseUrl,
    DownloadsDep,
    JobDep,
    JobStoreDep,
    Organization,
    PolledJobDep,
    SettingsDep,
    StorageDep,
    SubmissionsDep,
    SubmissionSlot,
)
from api.errors import ERROR_RESPONSES, error_responses
from api.limits import RATE_LIMITED
from api.models import DownloadLink, JobList
from api.openapi import SUBMIT_BODY
from api.services import listing, planning, retries
from api.services.downloads import completed_output
from recast.core.contract import UPDATE_CANCEL, UPDATE_CONFIRM
from recast.core.job import Job, JobStatus
from recast.core.requests import JobCreate

router = APIRouter(prefix="/v1", tags=["jobs"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


@router.post(
    "/jobs",
    status_code=202,
    response_model=Job,
    openapi_extra=SUBMIT_BODY,
    summary="Submit a job",
    responses={
        200: {"model": Job, "description": "The job this idempotency key already created"},
        429: RATE_LIMITED,
        **error_responses(415, 410),  # neither JSON nor multipart; an expired upload
    },
)
async def submit_job(
    request: Request, org: Organization, slot: SubmissionSlot, submissions: SubmissionsDep
) -> Job | JSONResponse:
    """JSON with `input_url`, or multipart with a `media` file part, an `outputs` JSON part and any other
    field as a part of its own."""
    job, created = await submissions.start(request, org, slot, JobCreate)
    if created:
        return job
    return JSONResponse(job.model_dump(mode="json"), status_code=200)


@router.get("/jobs", response_model=JobList, summary="List jobs, newest first")
async def list_jobs(
    org: Organization,
    store: JobStoreDep,
    status: JobStatus | None = Query(None, description="Only jobs with this status."),
    limit: int = Query(listing.DEFAULT_LIMIT, ge=1, le=listing.MAX_LIMIT, description="Jobs per page."),
    cursor: str | None = Query(None, max_length=1024, description="`next_cursor` of the previous page."),
) -> JobList:
    """The caller's organization's jobs, newest first. Listing is eventually consistent: a job shows
    up, and its status changes show, a moment after they happen (`GET /v1/jobs/{id}` reads the job itself)."""
    return await listing.list_jobs(store, org, status, limit, cursor)


@router.get(
    "/jobs/{job_id}",
    response_model=Job,
    summary="Get a job",
    description="The job as it is now. While Temporal is slow to answer (a busy server), a running job may be "
    "answered with its last read, at most RECAST_READ_MAX_AGE_MS old, with an `Age` header; send "
    "`Cache-Control: no-cache` to wait for a fresh read.",
)
async def get_job(job: PolledJobDep) -> Job:
    return job


@router.get(
    "/jobs/{job_id}/outputs/{output_id}/download",
    response_model=DownloadLink,
    summary="Get a signed download URL for a finished output",
    description="Valid for RECAST_URL_TTL, or until the job's files expire (`outputs_expire_at`) if "
    "sooner; after that 410 `expired`.",
    responses=error_responses(410),  # type: ignore[arg-type]
)
async def download_output(
    job: JobDep, output_id: str, org: Organization, downloads: DownloadsDep
) -> DownloadLink:
    return await downloads.link(org, job.id, completed_output(job, output_id), job.outputs_expire_at)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=Job,
    summary="Cancel a job",
    description="Stops a pending, probing, awaiting-confirmation or processing job: running encodes stop, "
    "outputs already completed stay downloadable, the rest become `canceled`. A finished job → 409 "
    "`not-cancelable`.",
)
async def cancel_job(job: JobDep, store: JobStoreDep) -> Job:
    return await store.control(job, UPDATE_CANCEL)


@router.post(
    "/jobs/{job_id}/confirm",
    response_model=Job,
    summary="Confirm a delayed-start job",
    description="Lets a job submitted with `delayed_start: true` go on from `awaiting_confirmation` "
    "(after reviewing `total_estimated_cost`). Any other state → 409 `not-awaiting-confirmation`.",
)
async def confirm_job(job: JobDep, store: JobStoreDep) -> Job:
    return await store.control(job, UPDATE_CONFIRM)


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=Job,
    summary="Retry a job's failed outputs",
    description="Runs a `partial` or `failed` job's failed outputs again — same output IDs, same storage "
    "keys; finished outputs are not touched — optionally with overrides of their settings. The job then "
    "reads as its outputs' latest results, with every run in `attempts`. Not partial or failed → 409 "
    "`not-retryable` (`retry-running` while a retry runs).",
    responses={429: RATE_LIMITED},
)
async def retry_job(
    job: JobDep,
    store: JobStoreDep,
    slot: SubmissionSlot,
    settings: SettingsDep,
    storage: StorageDep,
    base_url: BaseUrl,
    body: retries.RetryCreate | None = None,
) -> Job:
    local = storage.local_root is not None
    job_settings = planning.job_settings(settings, base_url, local)
    return await retries.retry(store, job, body or retries.RetryCreate(), slot, job_settings)

"""`/v1/batches`: submit up to 1,000 jobs at once, read a batch's counts and jobs, cancel it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.deps import JobStoreDep, Organization, SubmissionsDep, batch_rate_limit
from api.errors import ERROR_RESPONSES
from api.limits import RATE_LIMITED
from api.models import BatchWithJobs
from api.services import batches, listing
from recast.core.batches import Batch, BatchCreate
from recast.core.job import JobStatus

router = APIRouter(prefix="/v1", tags=["batches"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


@router.post(
    "/batches",
    status_code=202,
    response_model=Batch,
    summary="Submit a batch of jobs",
    responses={429: RATE_LIMITED},
    dependencies=[Depends(batch_rate_limit)],
)
async def submit_batch(
    body: BatchCreate, org: Organization, submissions: SubmissionsDep, store: JobStoreDep
) -> Batch:
    """Every job is checked first (all or nothing: a 400 names `jobs[i]` and the field); then they run as
    the batch's jobs, and `batch.completed` is sent to `webhook_url` once, when the last one ends."""
    return await batches.submit(submissions, store.client, org, body)


@router.get("/batches/{batch_id}", response_model=BatchWithJobs, summary="Get a batch and a page of its jobs")
async def get_batch(
    batch_id: str,
    org: Organization,
    store: JobStoreDep,
    status: JobStatus | None = Query(None, description="Only the batch's jobs with this status."),
    limit: int = Query(listing.DEFAULT_LIMIT, ge=1, le=listing.MAX_LIMIT, description="Jobs per page."),
    cursor: str | None = Query(None, max_length=1024, description="`next_cursor` of the previous page."),
) -> BatchWithJobs:
    batch = await batches.read(store.client, org, batch_id)
    page = await listing.list_jobs(store, org, status, limit, cursor, batch_id=batch_id)
    return BatchWithJobs(**batch.model_dump(), jobs=page.data, next_cursor=page.next_cursor)


@router.post("/batches/{batch_id}/cancel", response_model=Batch, summary="Cancel a batch")
async def cancel_batch(batch_id: str, org: Organization, store: JobStoreDep) -> Batch:
    """Starts no more of its jobs and cancels the running ones (each keeps its finished outputs); an
    ended batch → 409 `not-cancelable`."""
    return await batches.cancel(store.client, await batches.read(store.client, org, batch_id))

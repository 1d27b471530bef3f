"""`GET /v1/jobs/{id}/events`: watch a job as a stream of events until it ends.

Each watcher reads the job through the JobStore every POLL_S; concurrent watchers and pollers of one
job share those reads (one describe in flight per job, reused for RECAST_READ_CACHE_MS), so a crowd
watching a job costs Temporal about what one watcher does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.auth import organization
from api.errors import ERROR_RESPONSES, ApiError
from api.job_store import JobStore
from recast.core.job import Job

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)  # type: ignore[arg-type]

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
POLL_S = 0.25
PROGRESS_DEBOUNCE_S = 0.2

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


class EventStream(StreamingResponse):
    media_type = NDJSON


def _progress(job: Job) -> tuple[int, ...]:
    return (job.progress, *(o.progress for o in job.outputs))


def _event(name: EventName, job: Job) -> JobEvent:
    return JobEvent(event=name, job=job, server_time=datetime.now(UTC))


async def watch(
    store: JobStore, job_id: str, org: str, first: Job, heartbeat_s: float, poll_s: float = POLL_S
) -> AsyncIterator[JobEvent]:
    """The events of one job, from `first` (a read already made) until it reaches a terminal status."""
    job = first
    yield _event("snapshot", job)
    if job.status.terminal:
        yield _event("completed", job)
        return
    status, progress = job.status, _progress(job)
    progress_at = heartbeat_at = time.monotonic()
    while True:
        await asyncio.sleep(poll_s)
        try:
            job = await store.get(job_id, org)
        except ApiError as err:
            if err.status == 404:  # cannot happen to a job that was there, unless its history is gone
                return
            # Temporal unreachable for a moment: the stream stays open and the next poll tries again.
        else:
            now = time.monotonic()
            if job.status is not status:
                status, progress, progress_at = job.status, _progress(job), now
                yield _event("status_change", job)
                if status.terminal:
                    yield _event("completed", job)
                    return
            elif _progress(job) != progress and now - progress_at >= PROGRESS_DEBOUNCE_S:
                progress, progress_at = _progress(job), now
                yield _event("progress", job)
        now = time.monotonic()
        if now - heartbeat_at >= heartbeat_s:
            heartbeat_at = now
            yield _event("heartbeat", job)


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventStream,
    summary="Watch a job: a stream of events until it ends",
    responses={
        200: {
            "model": JobEvent,
            "description": "NDJSON (one JobEvent per line) by default; server-sent events "
            "(`event: <name>` and `data: <JobEvent JSON>`) with `Accept: text/event-stream`.",
            "content": {
                NDJSON: {"schema": {"type": "object", "$ref": "#/components/schemas/JobEvent"}},
                SSE: {"schema": {"type": "string"}},
            },
        }
    },
)
async def watch_job(job_id: str, request: Request, org: str = Depends(organization)) -> EventStream:
    store: JobStore = request.app.state.jobs
    first = await store.get(job_id, org)  # 404 for unknown and other organizations' jobs, before streaming
    sse = SSE in request.headers.get("accept", "").lower()
    heartbeat_s: float = request.app.state.settings.events_heartbeat_s

    async def body() -> AsyncIterator[str]:
        async for event in watch(store, job_id, org, first, heartbeat_s):
            data = event.model_dump_json()
            yield f"event: {event.event}\ndata: {data}\n\n" if sse else data + "\n"

    return EventStream(
        body(),
        media_type=SSE if sse else NDJSON,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

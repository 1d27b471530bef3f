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

from api.errors import ApiError
from api.job_store import JobStore
from api.models import EventName, JobEvent
from recast.core.job import Job

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
POLL_S = 0.25
PROGRESS_DEBOUNCE_S = 0.2


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


async def stream(store: JobStore, first: Job, org: str, heartbeat_s: float, sse: bool) -> AsyncIterator[str]:
    """The events of `watch` as the response body: NDJSON lines, or server-sent events with `sse`."""
    async for event in watch(store, first.id, org, first, heartbeat_s):
        data = event.model_dump_json()
        yield f"event: {event.event}\ndata: {data}\n\n" if sse else data + "\n"

"""How long a job's files live: when a finished job's outputs expire, and what the cleanup workflow is
given and reports. Pure; importable inside Temporal's workflow sandbox.

A finished job's files (its input copy and outputs) expire `RECAST_OUTPUT_TTL` after it ended
(`completed_at`, set for every final status); the API shows that time as `outputs_expire_at` and answers
a download after it with 410 `expired`, and the cleanup schedule deletes the files once it has passed
(never a running job's). `0` keeps everything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from recast.core.job import Job

CLEANUP_SCHEDULE_SUFFIX = "-cleanup"


def cleanup_schedule_id(task_queue: str) -> str:
    """The Temporal Schedule (and the prefix of its workflows' IDs) that cleans up after the workers of
    `task_queue`: `recast-cleanup` for the default queue. Per queue, so deployments sharing a namespace
    with their own queues and storages each clean their own."""
    return task_queue + CLEANUP_SCHEDULE_SUFFIX


def outputs_expire_at(job: Job, ttl_s: int) -> datetime | None:
    """When a finished job's files expire; None while it runs, or when files are kept (`ttl_s` 0)."""
    if ttl_s <= 0 or not job.status.terminal or job.completed_at is None:
        return None
    return job.completed_at + timedelta(seconds=ttl_s)


def with_expiry(job: Job, ttl_s: int, now: datetime) -> Job:
    """The job with `outputs_expire_at` and `outputs_expired` as of `now` (set in place, returned); an
    expired job's outputs lose the download URLs signed when it finished, which lead nowhere now."""
    job.outputs_expire_at = outputs_expire_at(job, ttl_s)
    job.outputs_expired = job.outputs_expire_at is not None and job.outputs_expire_at <= now
    if job.outputs_expired:
        for out in job.outputs:
            out.download_url = out.download_expires_at = None
    return job


class CleanupParams(BaseModel):
    """The cleanup workflow's input, set in the schedule's action (visible in the Web UI)."""

    output_ttl_s: int = Field(description="RECAST_OUTPUT_TTL: files of jobs finished longer ago are deleted.")


class CleanupReport(BaseModel):
    """What one cleanup run did; its workflow's result."""

    jobs_deleted: int = Field(default=0, description="Job folders (input copy and outputs) deleted.")
    uploads_deleted: int = Field(default=0, description="Upload folders deleted.")
    outputs_deleted: int = Field(default=0, description="Files under templated output paths deleted.")
    objects_deleted: int = Field(default=0, description="Objects deleted in all.")
    bytes_deleted: int = 0
    kept_in_use: int = Field(
        default=0, description="Expired by age but kept: a running (or not yet expired) job still uses them."
    )
    objects_seen: int = 0

"""Batches: many jobs submitted together (`POST /v1/batches`), run as child workflows of one `BatchJob`
workflow, which counts them as they end and sends `batch.completed` once. The models here are the API's
request and response bodies and the workflow's input and state. Only pydantic; sandbox-safe.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from recast.core.job import JobStatus
from recast.core.payloads import Webhook
from recast.core.specs import Strict

MAX_BATCH_JOBS = 1000
# Jobs are stored (by the API) and started (by the workflow) in pages of this many: one activity reads
# a page, and its children's starts go to the server in one workflow task.
BATCH_PAGE_SIZE = 100


class BatchCreate(Strict):
    """Body of `POST /v1/batches`. Each job is checked as `POST /v1/jobs` checks a JSON body, all of them
    before any starts: the first refusal is a 400 naming `jobs[i]`."""

    jobs: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH_JOBS,
        description=f"1 to {MAX_BATCH_JOBS} job requests, each a `POST /v1/jobs` JSON body (an "
        "`input_url` or `inputs`; `template` allowed; no `idempotency_key`).",
    )
    metadata: dict[str, str] = Field(default_factory=dict, description="Your own pairs, returned as given.")
    webhook_url: str | None = Field(
        default=None, max_length=4096, description="Receives `batch.completed` once, when the last job ends."
    )
    webhook_secret: str | None = Field(default=None, min_length=1, max_length=256)


class BatchStatus(StrEnum):
    running = "running"
    completed = "completed"
    canceled = "canceled"


class BatchCounts(BaseModel):
    """The batch's jobs by status. `queued`: accepted, its job not started yet (jobs start a page at a
    time); `running`: started, not ended (pending, probing, awaiting confirmation or processing)."""

    queued: int = 0
    running: int = 0
    completed: int = 0
    partial: int = 0
    failed: int = 0
    canceled: int = 0


class Batch(BaseModel):
    id: str
    organization: str
    status: BatchStatus = BatchStatus.running
    total: int = Field(description="How many jobs the batch holds.")
    counts: BatchCounts
    metadata: dict[str, str] = Field(default_factory=dict)
    webhook_url: str | None = None
    total_estimated_cost: float | None = Field(
        default=None, description="Sum of the ended jobs' estimates (each is known after its probe)."
    )
    total_actual_cost: float | None = Field(default=None, description="Sum of the ended jobs' costs.")
    currency: str = "USD"
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    canceled_at: datetime | None = None


class BatchParams(BaseModel):
    """The `BatchJob` workflow's input. The jobs' own JobParams are in storage, a page per key (1,000 of
    them would be a payload near Temporal's 2 MiB limit, and would sit in the history twice)."""

    batch_id: str
    organization: str
    total: int
    page_keys: list[str]
    metadata: dict[str, str] = Field(default_factory=dict)
    webhook: Webhook | None = None
    webhook_retry_s: float = 3600.0
    created_at: datetime


def initial_batch(params: BatchParams) -> Batch:
    return Batch(
        id=params.batch_id,
        organization=params.organization,
        total=params.total,
        counts=BatchCounts(queued=params.total),
        metadata=params.metadata,
        webhook_url=params.webhook.url if params.webhook else None,
        created_at=params.created_at,
        updated_at=params.created_at,
    )


def count_ended(counts: BatchCounts, status: JobStatus) -> None:
    """One running job of the batch ended with `status`."""
    counts.running -= 1
    field = status.value if status.terminal else JobStatus.failed.value
    setattr(counts, field, getattr(counts, field) + 1)

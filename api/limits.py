"""Per-organization limits on submissions → 429 `rate-limited` with `Retry-After` (the route
dependencies that apply them are in api/deps.py).

- **Submissions per minute** (`RECAST_MAX_SUBMISSIONS_PER_MINUTE`): a sliding window of the last 60 s
  per organization, kept in this API process. With several API replicas each enforces its own
  window, so an organization can submit up to replicas × the limit per minute in all.
- **Concurrent jobs** (`RECAST_MAX_CONCURRENT_JOBS`): jobs of the organization not yet finished
  (`pending`, `probing`, `awaiting_confirmation`, `processing`), counted in Temporal visibility, so
  every replica sees every replica's jobs. Visibility lags starts by a moment, so the jobs this process
  started that visibility does not show yet, and the submissions it has admitted but not started yet
  (an upload still streaming in), are added to the count: a burst cannot overshoot it from one process.

A repeated submission with the `Idempotency-Key` header of an existing job is not refused by the
concurrent-jobs limit (it returns that job and starts nothing); it still counts as a submission.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from api.errors import ApiError, ErrorResponse
from api.visibility import quote
from recast.core.contract import ORGANIZATION_KEY, STATUS_KEY, WORKFLOW_TYPE
from recast.core.job import JobStatus

WINDOW_S = 60.0
# A job this process started is counted from here until visibility shows it, or at most this long
# (visibility normally shows it well within a second; this bounds a start whose outcome was lost).
UNINDEXED_MAX_S = 60.0
# Nobody knows when a job will finish; a client told to wait this long polls gently meanwhile.
CONCURRENT_RETRY_AFTER_S = 5
ACTIVE = [status.value for status in JobStatus if not status.terminal]

RATE_LIMITED: dict[str, Any] = {
    "model": ErrorResponse,
    "description": "rate-limited: the organization's submissions per minute or concurrent jobs are at "
    "their limit; the message says which",
    "headers": {
        "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}
    },
}


def active_query(org: str) -> str:
    """The organization's unfinished jobs. `ExecutionStatus` too: a workflow stopped from outside
    Recast (terminated in the Web UI) keeps its last `RecastStatus` but holds no slot any more; and a
    finished job whose workflow still delivers webhooks already has a terminal `RecastStatus`."""
    statuses = ", ".join(quote(s) for s in ACTIVE)
    return (
        f"WorkflowType = {quote(WORKFLOW_TYPE)} AND {ORGANIZATION_KEY.name} = {quote(org)} "
        f"AND {STATUS_KEY.name} IN ({statuses}) AND ExecutionStatus = 'Running'"
    )


class Slot:
    """One admitted submission. The route tells it which job it started; until then, and if the
    request fails, it holds a reservation in the concurrent-jobs count."""

    def __init__(self, limits: Limits, org: str, token: str | None) -> None:
        self._limits, self._org, self._token = limits, org, token

    def started(self, job_id: str, created: bool) -> None:
        """The job is started (created) or was already there (an idempotent repeat)."""
        if created:
            self._limits.unindexed.setdefault(self._org, {})[job_id] = self._limits.clock()
        self.release()

    def release(self) -> None:
        if self._token is not None:
            reserved = self._limits.reserved[self._org]
            reserved[self._token] -= 1
            if reserved[self._token] <= 0:
                del reserved[self._token]
            self._token = None


class Limits:
    def __init__(
        self,
        client: Client,
        max_concurrent: int,
        max_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.max_concurrent = max_concurrent  # 0: no limit
        self.max_per_minute = max_per_minute  # 0: no limit
        self.clock = clock
        self.submitted: dict[str, deque[float]] = {}
        # Admitted, not yet started: token (the idempotent job ID, or a random one) → requests holding it.
        # Racing requests with one idempotency key make one job, so they hold one reservation.
        self.reserved: dict[str, Counter[str]] = {}
        # Started by this process, not yet seen in visibility: job ID → when.
        self.unindexed: dict[str, dict[str, float]] = {}

    async def admit(self, org: str, idempotent_job_id: str | None = None) -> Slot:
        """Admit one submission of `org`, or raise 429 `rate-limited` naming the limit."""
        self.check_rate(org)  # cheap refusal first: a client hammering us costs no visibility query
        token: str | None = None
        if self.max_concurrent > 0:
            repeat = idempotent_job_id is not None and idempotent_job_id in self.unindexed.get(org, {})
            if not repeat:
                # In this order: a job indexed between the two queries is counted twice (refusing a
                # little early, for a moment) rather than not at all.
                await self._forget_indexed(org)
                visible = await self._count(active_query(org))
                reserved = self.reserved.setdefault(org, Counter())
                joins = idempotent_job_id is not None and idempotent_job_id in reserved
                # Read after the awaits: what other requests admitted or started meanwhile is counted.
                active = visible + len(self.unindexed.get(org, {})) + len(reserved)
                if active >= self.max_concurrent and not joins:
                    if idempotent_job_id is None or not await self._exists(idempotent_job_id):
                        raise ApiError(
                            429,
                            "rate-limited",
                            f"concurrent jobs limit: organization {org!r} has {active} jobs that have not "
                            f"finished, and at most {self.max_concurrent} may run at once; try again when "
                            "one finishes, or cancel one",
                            {"Retry-After": str(CONCURRENT_RETRY_AFTER_S)},
                        )
                    repeat = True  # the existing job is returned; nothing new starts
                if not repeat:
                    token = idempotent_job_id or secrets.token_hex(8)
                    reserved[token] += 1
        try:
            self.check_rate(org)  # again: other requests may have been admitted while we awaited
        except ApiError:
            if token is not None:
                Slot(self, org, token).release()
            raise
        self.submitted.setdefault(org, deque()).append(self.clock())
        return Slot(self, org, token)

    def check_rate(self, window_key: str, what: str = "jobs", org: str | None = None) -> None:
        """429 if the sliding window `window_key` (an organization) is full."""
        if self.max_per_minute <= 0:
            return
        org = org or window_key
        now = self.clock()
        window = self.submitted.setdefault(window_key, deque())
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(window) >= self.max_per_minute:
            wait = max(1, math.ceil(window[0] + WINDOW_S - now))
            raise ApiError(
                429,
                "rate-limited",
                f"submissions per minute limit: organization {org!r} may submit at most "
                f"{self.max_per_minute} {what} per minute; try again in {wait} s",
                {"Retry-After": str(wait)},
            )

    async def _forget_indexed(self, org: str) -> None:
        """Drop the jobs this process started that visibility now shows (or that are too old)."""
        mine = self.unindexed.setdefault(org, {})
        now = self.clock()
        for job_id, at in list(mine.items()):
            if now - at > UNINDEXED_MAX_S:
                del mine[job_id]
        if not mine:
            return
        listed = ", ".join(quote(job_id) for job_id in mine)
        try:
            # Any status: once visibility has a job, `active_query` counts it exactly (or not, finished).
            async for execution in self.client.list_workflows(f"WorkflowId IN ({listed})"):
                mine.pop(execution.id, None)
        except RPCError as err:
            raise _unavailable() from err

    async def _exists(self, job_id: str) -> bool:
        return await self._count(f"WorkflowId = {quote(job_id)}") > 0

    async def _count(self, query: str) -> int:
        try:
            return (await self.client.count_workflows(query)).count
        except RPCError as err:
            raise _unavailable() from err


def _unavailable() -> ApiError:
    return ApiError(503, "unavailable", "the job store is not reachable; try again")

"""Jobs as the API sees them, read from and started in Temporal (job state lives only there)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import OrderedDict, deque
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from recast.core import retries
from recast.core.chunking import live_chunks_progress
from recast.core.contract import (
    BATCH_KEY,
    CREATED_AT_KEY,
    ENCODE_CHUNK,
    JOB_MEMO,
    ORGANIZATION_KEY,
    OUTPUT_ACTIVITIES,
    PRIORITY_KEY,
    RETRY_OF_KEY,
    STATUS_KEY,
    UPDATE_CANCEL,
    WORKFLOW_TYPE,
)
from recast.core.job import Job, JobStatus, OutputStatus, Stage, encoding_progress
from recast.core.lifecycle import with_expiry
from recast.core.payloads import EncodeProgress, JobParams, initial_job

TERMINAL_CACHE_SIZE = 10_000
READ_CACHE_S = 0.25
READ_WAIT_S = 0.02
READ_MAX_AGE_S = 10.0
# How many recent describes say whether Temporal is slow right now (their median against `read_wait_s`).
LATENCY_WINDOW = 16
# Seconds since the Job a poll was answered with was read from Temporal, when that answer was not a
# fresh read (see `JobStore.get(stale_ok=True)`); None for a fresh one. Per request (a context var).
read_age: ContextVar[float | None] = ContextVar("read_age", default=None)
# Cancel waits for the running ffmpeg processes to be gone; confirm for the job to move on.
UPDATE_TIMEOUT_S = 30


class JobStore:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        read_cache_s: float = READ_CACHE_S,
        output_ttl_s: int = 0,
        read_wait_s: float = READ_WAIT_S,
        read_max_age_s: float = READ_MAX_AGE_S,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        # RECAST_OUTPUT_TTL: every Job served says when its files expire (`outputs_expire_at`), and
        # whether they have (`outputs_expired`), as of the read.
        self.output_ttl_s = output_ttl_s
        # Polls and watchers of one running job share its reads: one describe in flight per job, and
        # its result is served again for `read_cache_s` after it returns. 0 turns both off.
        self.read_cache_s = read_cache_s
        # A poll (`get(stale_ok=True)`) waits `read_wait_s` for Temporal; if the describe takes longer (a
        # busy server: its workflow lock waits on persistence while jobs start), the poll is answered with
        # the job's last read, if no older than `read_max_age_s`, and the describe goes on behind it to
        # refresh the next poll. Polls stay fast while the server is busy, at the price of a bounded,
        # announced (`Age`) staleness under load. While the recent describes are slower than
        # `read_wait_s` (their median), the poll does not wait at all: the wait would only delay the same
        # answer (bench/poll_load.py --case burst: it was most of the slow polls' time).
        self.read_wait_s = read_wait_s
        self.read_max_age_s = max(read_max_age_s, read_cache_s)
        self._latency: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._inflight: dict[str, asyncio.Task[Job | None]] = {}
        self._fresh: OrderedDict[str, tuple[float, Job]] = OrderedDict()
        self.describes = 0  # describe RPCs made, for tests and benchmarks
        # A finished job never changes again, so it is read from Temporal once.
        self._terminal: OrderedDict[str, Job] = OrderedDict()
        # Highest progress served per running job and output. Live progress comes from heartbeats,
        # which vanish for a moment between an encode finishing and the workflow recording it.
        self._high_water: OrderedDict[str, dict[str, int]] = OrderedDict()

    async def start(self, params: JobParams) -> tuple[Job, bool]:
        """Start the job's workflow; (the Job, True). With an idempotency key the job ID is derived from
        it, and Temporal's workflow-ID uniqueness returns the job already started: (that Job, False)."""
        try:
            await self.client.start_workflow(
                WORKFLOW_TYPE,  # by name: the API does not import the workflow's code
                params,
                id=params.job_id,
                result_type=Job,
                task_queue=self.task_queue,
                memo={JOB_MEMO: initial_job(params)},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(ORGANIZATION_KEY, params.organization),
                        SearchAttributePair(STATUS_KEY, JobStatus.pending.value),
                        SearchAttributePair(PRIORITY_KEY, params.priority.value),
                        SearchAttributePair(CREATED_AT_KEY, params.created_at),
                        *([SearchAttributePair(RETRY_OF_KEY, params.retry_of)] if params.retry_of else []),
                        *([SearchAttributePair(BATCH_KEY, params.batch_id)] if params.batch_id else []),
                    ]
                ),
                priority=Priority(priority_key=params.priority.temporal_key),
                # A running job with this ID is returned as is; a finished one is never started again.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass
        if params.idempotency_key is None:
            started = initial_job(params)
            self._remember(started.id, started)  # its first polls have a last read to fall back on
            return started, True
        job = await self._read(params.job_id)
        if job is None:
            raise ApiError(503, "unavailable", "the job store is not reachable; try again")
        # Ours if it holds the outputs this request planned (their IDs are fresh random ones).
        created = [o.id for o in job.outputs] == [o.id for o in params.outputs]
        return job, created

    async def control(self, current: Job, update: str) -> Job:
        """Run the workflow's `cancel` or `confirm` update on `current` (the caller's job as just read by
        `get`: 404 for unknown jobs and other organizations' came first); a refusal becomes a 409."""
        job_id = current.id
        if current.status.terminal:  # a finished workflow takes no updates; say why here
            code = "not-cancelable" if update == UPDATE_CANCEL else "not-awaiting-confirmation"
            raise ApiError(409, code, f"the job is already {current.status.value}")
        handle = self.client.get_workflow_handle(job_id)
        try:
            job: Job = await handle.execute_update(
                update, result_type=Job, rpc_timeout=timedelta(seconds=UPDATE_TIMEOUT_S)
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type:
                raise ApiError(409, cause.type, cause.message) from err
            raise ApiError(409, "conflict", str(cause or err)) from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:  # finished while we asked: nothing left to change
                code = "not-cancelable" if update == UPDATE_CANCEL else "not-awaiting-confirmation"
                raise ApiError(409, code, f"job {job_id} has already finished") from err
            raise ApiError(
                503, "unavailable", f"the job did not answer in time ({err.message}); try again"
            ) from err
        self._high_water.pop(job_id, None)
        self.forget(job_id)
        return self._expiry(job)

    async def get(self, job_id: str, organization: str, stale_ok: bool = False) -> Job:
        """The job, or 404 `not-found` — also when it belongs to another organization. `stale_ok` (a
        poll): a running job may be answered with its last read when Temporal is slow (`read_wait_s`);
        `read_age` then says how old that read is."""
        read_age.set(None)
        job = self._terminal.get(job_id) or await self._shared_read(job_id, stale_ok)
        if job is None or job.organization != organization:
            raise ApiError(404, "not-found", f"no job {job_id}")
        if job.status.terminal:
            self._high_water.pop(job_id, None)
            self._terminal[job_id] = job
            while len(self._terminal) > TERMINAL_CACHE_SIZE:
                self._terminal.popitem(last=False)
        else:
            self._never_backwards(job)
        return self._expiry(await self.with_retries(job))

    async def with_retries(self, job: Job) -> Job:
        """A partial or failed job merged with its retry runs (`{id}-r1`, …; recast/core/retries.py).
        A job that may have been retried is read with one more describe, of the run after its last."""
        if job.retry_of is not None or job.status not in retries.RETRYABLE:
            return job
        runs: list[Job] = []
        for n in range(1, retries.MAX_RETRIES + 1):
            run_id = retries.run_id(job.id, n)
            run = self._terminal.get(run_id) or await self._shared_read(run_id)
            if run is None or run.organization != job.organization:
                break
            if run.status.terminal:
                self._terminal[run_id] = run
            else:
                self._never_backwards(run)
            runs.append(run)
        return retries.merged(job, runs)

    async def wait(self, job_id: str, organization: str, timeout_s: float) -> Job | None:
        """The finished Job, once the workflow has returned it, or None if that takes over `timeout_s`.

        Awaits the workflow's result: one long poll on Temporal's history (no thread, no polling loop),
        abandoned at the timeout; the job itself goes on."""
        handle = self.client.get_workflow_handle(job_id, result_type=Job)
        try:
            job = await asyncio.wait_for(handle.result(), timeout=max(0.0, timeout_s))
        except TimeoutError:
            return None
        except WorkflowFailureError:
            # Terminated or timed out outside Recast: `get` reads it as failed (terminated).
            return await self.get(job_id, organization)
        except RPCError as err:
            raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err
        if job.organization != organization:
            raise ApiError(404, "not-found", f"no job {job_id}")
        self._high_water.pop(job_id, None)
        self._terminal[job_id] = job
        while len(self._terminal) > TERMINAL_CACHE_SIZE:
            self._terminal.popitem(last=False)
        return self._expiry(job)

    async def from_listing(self, execution: WorkflowExecution, organization: str) -> Job | None:
        """The Job of one visibility listing entry, decoded from the memo the listing carries (no RPC);
        read like `get` only when the memo is missing. None if it is not this organization's."""
        if execution.id in self._terminal:
            job: Job | None = self._terminal[execution.id]
        else:
            job = await execution.memo_value(JOB_MEMO, None, type_hint=Job)
            if job is None:
                try:
                    return await self.get(execution.id, organization)
                except ApiError as err:
                    if err.status == 404:
                        return None
                    raise
            hit = self._fresh.get(execution.id)
            if hit is not None and hit[1].status is job.status and hit[1].updated_at >= job.updated_at:
                job = hit[1]  # the last describe is at least as recent, and has live progress
            elif execution.status != WorkflowExecutionStatus.RUNNING:
                _stopped_outside(job)
            if job.id in self._high_water and not job.status.terminal:
                self._never_backwards(job)
        return self._expiry(job) if job is not None and job.organization == organization else None

    def _expiry(self, job: Job) -> Job:
        return with_expiry(job, self.output_ttl_s, datetime.now(UTC))

    def forget(self, job_id: str) -> None:
        """Drop the shared read of a job that was just changed (cancel, confirm), and any read in flight."""
        self._fresh.pop(job_id, None)
        self._inflight.pop(job_id, None)

    async def _shared_read(self, job_id: str, stale_ok: bool = False) -> Job | None:
        if self.read_cache_s <= 0:
            return await self._read(job_id)
        hit = self._fresh.get(job_id)
        age = time.monotonic() - hit[0] if hit is not None else None
        if hit is not None and age is not None and age < self.read_cache_s:
            return hit[1]
        task = self._inflight.get(job_id)
        if task is None:
            task = asyncio.create_task(self._read(job_id))
            self._inflight[job_id] = task
            task.add_done_callback(lambda t: self._read_done(job_id, t))
        # Shielded: a caller that goes away (a closed connection) does not cancel the others' read.
        if not (stale_ok and hit is not None and age is not None and age < self.read_max_age_s):
            return await asyncio.shield(task)
        if not self.temporal_slow():
            done, _ = await asyncio.wait([task], timeout=self.read_wait_s)
            if done:
                return task.result()
        read_age.set(time.monotonic() - hit[0])
        return hit[1]

    def temporal_slow(self) -> bool:
        """Temporal has been answering describes slower than `read_wait_s` (the median of the last
        LATENCY_WINDOW): a poll that has a last read to fall back on is answered with it at once."""
        return (
            len(self._latency) >= LATENCY_WINDOW // 4 and statistics.median(self._latency) > self.read_wait_s
        )

    def _read_done(self, job_id: str, task: asyncio.Task[Job | None]) -> None:
        failed = task.cancelled() or task.exception() is not None  # (retrieved even if nobody waits)
        if self._inflight.get(job_id) is not task:
            return  # forgotten while in flight: its result may predate a change
        del self._inflight[job_id]
        if failed:
            return
        job = task.result()
        if job is None or job.status.terminal:
            self._fresh.pop(job_id, None)  # a finished job is kept in `_terminal`
        else:
            self._remember(job_id, job)

    def _remember(self, job_id: str, job: Job) -> None:
        """Keep a running job's last read: shared for `read_cache_s`, a poll's fallback for longer."""
        if self.read_cache_s <= 0:
            return
        now = time.monotonic()
        self._fresh[job_id] = (now, job)
        self._fresh.move_to_end(job_id)
        while self._fresh:
            oldest, (at, _) = next(iter(self._fresh.items()))
            if now - at < self.read_max_age_s and len(self._fresh) <= TERMINAL_CACHE_SIZE:
                break
            del self._fresh[oldest]

    def _never_backwards(self, job: Job) -> None:
        seen = self._high_water.setdefault(job.id, {})
        self._high_water.move_to_end(job.id)
        job.progress = seen["job"] = max(seen.get("job", 0), job.progress)
        for out in job.outputs:
            out.progress = seen[out.id] = max(seen.get(out.id, 0), out.progress)
        while len(self._high_water) > TERMINAL_CACHE_SIZE:
            self._high_water.popitem(last=False)

    async def _read(self, job_id: str) -> Job | None:
        if not job_id.startswith("job_"):
            return None
        handle = self.client.get_workflow_handle(job_id, result_type=Job)
        self.describes += 1
        started = time.monotonic()
        try:
            desc = await handle.describe()
            self._latency.append(time.monotonic() - started)
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err
        if desc.workflow_type != WORKFLOW_TYPE:
            return None
        # The workflow publishes its Job in the memo at every change: one RPC, no worker needed.
        job: Job | None = await desc.memo_value(JOB_MEMO, None, type_hint=Job)
        if job is None:  # started by another workflow, and not yet picked up by a worker
            job = await self._from_start_event(handle)
        if job is None:
            return None
        if desc.status == WorkflowExecutionStatus.RUNNING:
            self._merge_heartbeats(job, desc.raw_description.pending_activities)
        else:
            _stopped_outside(job)
        return job

    async def _from_start_event(self, handle: WorkflowHandle) -> Job | None:
        params = await self._start_params(handle)
        return initial_job(params) if params else None

    async def start_params(self, job_id: str) -> JobParams | None:
        """What the job was started with (its webhook secret, say, which the Job never shows)."""
        try:
            return await self._start_params(self.client.get_workflow_handle(job_id))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err

    async def _start_params(self, handle: WorkflowHandle) -> JobParams | None:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [params] = await self.client.data_converter.decode(payloads, [JobParams])
                return params  # type: ignore[no-any-return]
        return None

    def _merge_heartbeats(self, job: Job, pending: object) -> None:
        """Live per-output progress from the output activities' heartbeats (every kind: encode, package,
        image, thumbnails), folded into the job's progress."""
        changed = False
        chunks: dict[str, tuple[int, list[float]]] = {}  # output → (its chunk count, running chunks' %)
        for act in pending:  # type: ignore[attr-defined]
            kind = act.activity_type.name
            if kind not in (*OUTPUT_ACTIVITIES, ENCODE_CHUNK) or not act.heartbeat_details.payloads:
                continue
            raw = self.client.data_converter.payload_converter.from_payloads(
                act.heartbeat_details.payloads, [EncodeProgress]
            )
            beat = raw[0] if raw else None
            if not isinstance(beat, EncodeProgress):
                continue
            if kind == ENCODE_CHUNK:
                if beat.chunks:
                    chunks.setdefault(beat.output_id, (beat.chunks, []))[1].append(beat.percent)
                continue
            for out in job.outputs:
                if out.id == beat.output_id and out.status is OutputStatus.processing:
                    # Verifying and uploading are the last stretch; hold at 99 until done.
                    out.progress = max(out.progress, min(99, int(beat.percent)))
                    changed = True
        for out in job.outputs:
            if out.id in chunks and out.status is OutputStatus.processing:
                count, running = chunks[out.id]
                out.progress = live_chunks_progress(out.progress, count, running)
                changed = True
        if changed and job.stage is Stage.encoding:
            job.progress = max(job.progress, encoding_progress(job.outputs))


def _stopped_outside(job: Job) -> None:
    """A closed workflow whose Job is not finished was terminated, timed out or cancelled from outside
    Recast (e.g. in the Temporal UI): the job failed."""
    if not job.status.terminal:
        job.status, job.stage, job.progress = JobStatus.failed, Stage.done, 100
        job.error_code, job.error_message = "terminated", "the job's workflow was stopped outside Recast"

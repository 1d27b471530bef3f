"""BatchJob: one workflow per batch, its jobs TranscodeJob child workflows. Thin and deterministic.

It reads the batch's jobs a stored page at a time (`load_batch_page`: 1,000 JobParams would be a
payload near Temporal's 2 MiB limit) and starts each page's children together, in one workflow task.
Every child is awaited as it ends and counted by the status it ended with; the counts and cost sums
are published in the memo (read by `GET /v1/batches/{id}`). When the last job has ended the workflow
sends `batch.completed` once — one activity, retried until it lands, with a delivery ID derived from
the batch, so a receiver can deduplicate a retried attempt — and completes with the final Batch.

History size: a child costs three events here (start initiated, started, completed with the child's
Job), a cancel two more, plus the workflow tasks and memo updates as children end at different times:
measured 366 events for 50 jobs (7.3 a job), so some 7,500 and a few MB for 1,000 — inside Temporal's
limits (51,200 events and 50 MB per history; 2,000 pending children or cancel requests per workflow).
Continue-as-new is not used: a new run could not await the children the previous one started. The
API caps a batch at 1,000 jobs (recast/core/batches.py).

Cancel (the `cancel` update) starts no more pages and asks every running child to cancel (each keeps
its finished outputs, as a cancelled job does); jobs never started count as canceled.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import (
    Priority,
    RetryPolicy,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from recast.core import contract, pricing
    from recast.core.batches import Batch, BatchParams, BatchStatus, count_ended, initial_batch
    from recast.core.contract import (
        BATCH_KEY,
        BATCH_MEMO,
        CREATED_AT_KEY,
        JOB_MEMO,
        ORGANIZATION_KEY,
        PRIORITY_KEY,
        STATUS_KEY,
    )
    from recast.core.job import Job, JobStatus
    from recast.core.payloads import JobParams, initial_job
    from recast.core.webhooks import EVENT_BATCH_COMPLETED, WEBHOOK_RETRY, WebhookDelivery


@workflow.defn(name=contract.BATCH_WORKFLOW_TYPE)
class BatchJob:
    @workflow.init
    def __init__(self, params: BatchParams) -> None:
        self.params = params
        self.batch: Batch = initial_batch(params)
        self._cancel = False
        self._started: set[str] = set()  # started, not ended
        self._estimates: list[float | None] = []
        self._actuals: list[float | None] = []
        self._unpublished = False

    @workflow.query(name=contract.QUERY_BATCH)
    def get_batch(self) -> Batch:
        return self.batch

    @workflow.update(name=contract.UPDATE_CANCEL)
    async def cancel(self) -> Batch:
        """Start no more jobs and cancel the running ones; returns the Batch once every job has ended."""
        self._cancel = True
        await asyncio.gather(*(self._cancel_child(job_id) for job_id in sorted(self._started)))
        await workflow.wait_condition(lambda: self.batch.status is not BatchStatus.running)
        return self.batch

    @cancel.validator
    def _cancel_allowed(self) -> None:
        if self.batch.status is not BatchStatus.running or self._cancel:
            raise ApplicationError(f"the batch is already {self.batch.status.value}", type="not-cancelable")

    @workflow.run
    async def run(self, params: BatchParams) -> Batch:
        publisher = asyncio.create_task(self._publish())
        children: list[asyncio.Task[None]] = []
        for key in params.page_keys:
            if self._cancel:
                break
            page: list[JobParams] = await workflow.execute_activity(
                contract.load_batch_page,
                key,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=10),
            )
            if self._cancel:  # asked while the page was read
                break
            children += [asyncio.create_task(self._child(job)) for job in page]
            self.batch.counts.queued -= len(page)
            self.batch.counts.running += len(page)
            self._touch()
        await asyncio.gather(*children)
        batch = self.batch
        # Jobs of pages never started (the batch was cancelled first) end canceled without running.
        batch.counts.canceled += batch.counts.queued
        batch.counts.queued = 0
        batch.completed_at = workflow.now()
        if self._cancel:
            batch.status, batch.canceled_at = BatchStatus.canceled, batch.completed_at
        else:
            batch.status = BatchStatus.completed
        self._touch()
        await workflow.wait_condition(lambda: not self._unpublished)
        publisher.cancel()
        await self._notify_completed()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return batch

    async def _child(self, job: JobParams) -> None:
        """Run one job of the batch to its end and count how it ended."""
        status = JobStatus.failed
        try:
            if self._cancel:  # cancelled while its page was being started
                status = JobStatus.canceled
                return
            handle = await workflow.start_child_workflow(
                contract.WORKFLOW_TYPE,
                job,
                id=job.job_id,
                result_type=Job,
                memo={JOB_MEMO: initial_job(job)},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(ORGANIZATION_KEY, job.organization),
                        SearchAttributePair(STATUS_KEY, JobStatus.pending.value),
                        SearchAttributePair(PRIORITY_KEY, job.priority.value),
                        SearchAttributePair(CREATED_AT_KEY, job.created_at),
                        SearchAttributePair(BATCH_KEY, self.params.batch_id),
                    ]
                ),
                priority=Priority(priority_key=job.priority.temporal_key),
                # A job goes on if its batch's workflow is terminated from outside Recast.
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            self._started.add(job.job_id)
            if self._cancel:  # cancelled while it was being started
                await self._cancel_child(job.job_id)
            result: Job = await handle
            status = result.status
            self._estimates.append(result.total_estimated_cost)
            self._actuals.append(result.total_actual_cost)
        except ChildWorkflowError:
            # The job's workflow was terminated or timed out outside Recast (it always completes
            # otherwise, cancelled or not): the job failed, as `GET /v1/jobs/{id}` reads it.
            status = JobStatus.failed
        finally:
            self._started.discard(job.job_id)
            count_ended(self.batch.counts, status)
            self.batch.total_estimated_cost = pricing.total(self._estimates)
            self.batch.total_actual_cost = pricing.total(self._actuals)
            self._touch()

    async def _cancel_child(self, job_id: str) -> None:
        try:
            await workflow.get_external_workflow_handle(job_id).cancel()
        except FailureError:
            pass  # it ended (or had not started) meanwhile: nothing left to cancel

    async def _notify_completed(self) -> None:
        """`batch.completed`, once: one activity for the batch, retried until it lands or gives up."""
        hook = self.params.webhook
        if hook is None:
            return
        delivery = WebhookDelivery(
            url=hook.url,
            secret=hook.secret,
            event=EVENT_BATCH_COMPLETED,
            delivery_id=f"dlv_{self.params.batch_id}_completed",
            batch=self.batch.model_copy(deep=True),
        )
        try:
            await workflow.execute_activity(
                contract.deliver_webhook,
                delivery,
                schedule_to_close_timeout=timedelta(seconds=self.params.webhook_retry_s),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=WEBHOOK_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("webhook batch.completed to %s given up", hook.url)

    def _touch(self) -> None:
        self.batch.updated_at = workflow.now()
        self._unpublished = True

    async def _publish(self) -> None:
        """The Batch in the memo, once per workflow task however many jobs ended in it (as TranscodeJob
        publishes its Job): the API reads it with one `describe`."""
        while True:
            await workflow.wait_condition(lambda: self._unpublished)
            self._unpublished = False
            workflow.upsert_memo({BATCH_MEMO: self.batch})

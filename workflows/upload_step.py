"""The upload step's pieces of TranscodeJob: scheduling store_output on the task queue of the worker that
holds the output's files, and telling a failed upload whose worker is gone (encode again elsewhere) from
one that failed for good. Like the workflow, only temporalio and recast.core, and deterministic.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    from recast.core import contract
    from recast.core.job import OutputStatus
    from recast.core.payloads import JobParams, StagedOutput

ENDED = {OutputStatus.completed, OutputStatus.failed, OutputStatus.canceled}


async def store(params: JobParams, staged: StagedOutput) -> int:
    """Run store_output on the worker that has the files; returns the bytes stored."""
    settings = params.settings
    return await workflow.execute_activity(
        contract.store_output,
        staged,
        task_queue=staged.task_queue,
        # Only that worker has the files: if it does not pick the upload up soon, it is gone (a
        # schedule-to-start timeout is never retried, so the workflow hears of it at once).
        schedule_to_start_timeout=timedelta(seconds=settings.upload_pickup_timeout_s),
        start_to_close_timeout=timedelta(hours=2),
        heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout_s),
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=settings.upload_attempts,
            non_retryable_error_types=["staged-missing"],
        ),
        priority=Priority(priority_key=params.priority.temporal_key),
    )


def worker_gone(err: ActivityError) -> bool:
    """Whether an upload failed because the worker holding the files is gone: nobody picked it up from
    that worker's queue in time, or its scratch no longer has them."""
    cause = err.cause
    if isinstance(cause, TimeoutError):
        return cause.type is TimeoutType.SCHEDULE_TO_START
    return isinstance(cause, ApplicationError) and cause.type == "staged-missing"

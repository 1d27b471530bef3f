"""RecastCleanup: one run of the storage cleanup, started by the `<task queue>-cleanup` Temporal Schedule
(created by the worker at start, `recast.infra.lifecycle`), so every run shows in the Web UI with what it
deleted as its result. All the work is one activity (`cleanup_storage`): listing storage and asking
Temporal which jobs still run are I/O, and the deletions must follow the listing they were judged on.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from recast.core import contract
    from recast.core.lifecycle import CleanupParams, CleanupReport


@workflow.defn(name=contract.CLEANUP_WORKFLOW_TYPE)
class RecastCleanup:
    @workflow.run
    async def run(self, params: CleanupParams) -> CleanupReport:
        if params.output_ttl_s <= 0:  # RECAST_OUTPUT_TTL=0 keeps every file
            return CleanupReport()
        return await workflow.execute_activity(
            contract.cleanup_storage,
            params,
            # A large bucket takes a while to list; the heartbeats say it is still going.
            start_to_close_timeout=timedelta(hours=6),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=10), maximum_attempts=3),
        )

"""Retention and lifecycle set up in Temporal, the same on every setup: the namespace keeps finished jobs
for RECAST_JOB_RETENTION, and a Temporal Schedule runs the cleanup workflow every RECAST_CLEANUP_INTERVAL.

The worker calls `ensure_lifecycle` at start (so `make run`, docker compose and a cluster of your own are
set up alike). Both steps are idempotent — they change only what differs, so any number of workers may
start at once — and neither stops a worker: on a cluster where Recast may not change the namespace
(Temporal Cloud, a locked-down namespace) or create schedules, it logs a warning saying what to set by
hand, and jobs run as before.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from recast.core.contract import CLEANUP_WORKFLOW_TYPE
from recast.core.lifecycle import CleanupParams, cleanup_schedule_id
from recast.infra.config import Settings

log = logging.getLogger("recast.lifecycle")


async def ensure_lifecycle(client: Client, settings: Settings) -> None:
    """Namespace retention and the cleanup schedule as the settings say; warnings, never an exception,
    when Temporal refuses."""
    try:
        await ensure_job_retention(client, settings.temporal_namespace, settings.job_retention_s)
    except RPCError as err:
        log.warning(
            "could not set the retention of namespace %r to RECAST_JOB_RETENTION=%ss (%s); finished jobs "
            "stay readable for the namespace's own retention: set it there "
            "(`temporal operator namespace update --retention …`)",
            settings.temporal_namespace,
            settings.job_retention_s,
            err.message,
        )
    try:
        await ensure_cleanup_schedule(client, settings)
    except RPCError as err:
        log.warning(
            "could not create or update the cleanup schedule %r (%s); expired files are not deleted until "
            "it exists (see docs/operations.md, Cleanup)",
            cleanup_schedule_id(settings.task_queue),
            err.message,
        )


async def namespace_retention(client: Client, namespace: str) -> timedelta:
    """The namespace's retention of closed workflows."""
    desc = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    return desc.config.workflow_execution_retention_ttl.ToTimedelta()


async def ensure_job_retention(client: Client, namespace: str, retention_s: int) -> bool:
    """Set the namespace's retention to `retention_s` if it differs; True when it was changed."""
    if await namespace_retention(client, namespace) == timedelta(seconds=retention_s):
        return False
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=namespace,
            # Only the retention is set: the server leaves every field left unset as it is.
            config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=retention_s)),
        )
    )
    log.info("namespace %r now keeps finished jobs for %ss (RECAST_JOB_RETENTION)", namespace, retention_s)
    return True


def cleanup_schedule(settings: Settings) -> Schedule:
    """The schedule as the settings want it: every RECAST_CLEANUP_INTERVAL, one run at a time."""
    schedule_id = cleanup_schedule_id(settings.task_queue)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CLEANUP_WORKFLOW_TYPE,
            CleanupParams(output_ttl_s=settings.output_ttl_s),
            id=schedule_id,  # the server appends each run's time
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=12),
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.cleanup_interval_s))]
        ),
        # A run still going when the next is due (a huge bucket): skip the next, never run two at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_cleanup_schedule(client: Client, settings: Settings) -> str:
    """Create the cleanup schedule, or update it where it differs from the settings; returns what was done
    (`created`, `updated` or `unchanged`)."""
    schedule_id = cleanup_schedule_id(settings.task_queue)
    wanted = cleanup_schedule(settings)
    try:
        await client.create_schedule(schedule_id, wanted)
        log.info("created the cleanup schedule %r", schedule_id)
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(schedule_id)
    changed = False

    async def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        if await _same(client, current.description.schedule, wanted):
            return None
        changed = True
        # Keep the schedule's state (paused by an operator, a note) as it is.
        wanted.state = current.description.schedule.state
        return ScheduleUpdate(schedule=wanted)

    await handle.update(update)
    if changed:
        log.info("updated the cleanup schedule %r to the current settings", schedule_id)
    return "updated" if changed else "unchanged"


async def _same(client: Client, have: Schedule, wanted: Schedule) -> bool:
    action, want = have.action, wanted.action
    if not isinstance(action, ScheduleActionStartWorkflow) or not isinstance(
        want, ScheduleActionStartWorkflow
    ):
        return False
    args = await client.data_converter.decode(list(action.args), [CleanupParams]) if action.args else []
    return (
        action.workflow == want.workflow
        and action.task_queue == want.task_queue
        and args == list(want.args)
        and [i.every for i in have.spec.intervals] == [i.every for i in wanted.spec.intervals]
        and have.policy.overlap == wanted.policy.overlap
    )

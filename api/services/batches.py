"""`/v1/batches`: many jobs submitted together, run as the children of one BatchJob workflow.

Submitting checks every job as `POST /v1/jobs` checks a JSON body (template applied, inputs resolved,
URLs checked) before anything starts: the first refusal is a 400 naming `jobs[i]`, and nothing is
started. The jobs' JobParams are then stored a page per object (recast/infra/storage.py
`batch_page_key`) and the BatchJob workflow (workflows/batch.py) started with their keys; it starts
the jobs, counts them as they end and sends `batch.completed` once.

Reading a batch is one `describe` (its counts are in the workflow's memo); its jobs are listed from
Temporal visibility by the `RecastBatch` search attribute its children carry, newest first, with the
same cursor as `GET /v1/jobs`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.services.submission import Submissions
from recast.core import ids
from recast.core.batches import BATCH_PAGE_SIZE, Batch, BatchCreate, BatchParams, BatchStatus, initial_batch
from recast.core.contract import (
    BATCH_MEMO,
    BATCH_WORKFLOW_TYPE,
    CREATED_AT_KEY,
    ORGANIZATION_KEY,
    UPDATE_CANCEL,
)
from recast.core.payloads import JobParams, Webhook
from recast.core.requests import JobCreate
from recast.infra import net
from recast.infra.storage import batch_page_key

PAGE = TypeAdapter(list[JobParams])
CANCEL_TIMEOUT_S = 60


async def submit(subs: Submissions, client: Client, org: str, body: BatchCreate) -> Batch:
    """Check every job, store them, start the batch's workflow; the Batch as it starts."""
    if body.webhook_url is not None:
        if not body.webhook_url.lower().startswith(("http://", "https://")):
            raise ApiError(400, "invalid-input", "webhook_url must be an http:// or https:// URL")
        try:  # early feedback, as for a job's: the worker checks again on every connection
            await net.check_url(body.webhook_url, net.policy_for(subs.settings.url_allowlist))
        except net.ForbiddenUrl as exc:
            raise ApiError(400, "forbidden-url", f"webhook_url: {exc}") from exc
    batch_id, now = ids.batch_id(), datetime.now(UTC)
    jobs: list[JobParams] = []
    for i, raw in enumerate(body.jobs):
        if raw.get("idempotency_key") is not None:
            raise ApiError(
                400, "invalid-input", f"jobs[{i}].idempotency_key: not in a batch (every job is new)"
            )
        try:
            # One creation time for the batch; a microsecond apart, so its jobs list in their order.
            created = now + timedelta(microseconds=i)
            jobs.append(
                await subs.plan(dict(raw), org, JobCreate, None, None, ids.job_id(), created, batch_id)
            )
        except ApiError as exc:
            raise ApiError(exc.status, exc.code, f"jobs[{i}].{exc.message}", exc.headers) from exc
    keys = []
    for n, start in enumerate(range(0, len(jobs), BATCH_PAGE_SIZE)):
        key = batch_page_key(org, batch_id, n)
        await subs.storage.write_bytes(key, PAGE.dump_json(jobs[start : start + BATCH_PAGE_SIZE]))
        keys.append(key)
    params = BatchParams(
        batch_id=batch_id,
        organization=org,
        total=len(jobs),
        page_keys=keys,
        metadata=body.metadata,
        webhook=Webhook(url=body.webhook_url, secret=body.webhook_secret) if body.webhook_url else None,
        webhook_retry_s=subs.settings.webhook_retry_s,
        created_at=now,
    )
    batch = initial_batch(params)
    try:
        await client.start_workflow(
            BATCH_WORKFLOW_TYPE,
            params,
            id=batch_id,
            task_queue=subs.jobs.task_queue,
            memo={BATCH_MEMO: batch},
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(ORGANIZATION_KEY, org), SearchAttributePair(CREATED_AT_KEY, now)]
            ),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except RPCError as err:
        raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err
    return batch


async def read(client: Client, org: str, batch_id: str) -> Batch:
    """The batch from its workflow's memo; 404 for an unknown batch and for another organization's."""
    missing = ApiError(404, "not-found", f"no batch {batch_id}")
    if not batch_id.startswith("bat_"):
        raise missing
    try:
        desc = await client.get_workflow_handle(batch_id).describe()
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise missing from err
        raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err
    if desc.workflow_type != BATCH_WORKFLOW_TYPE:
        raise missing
    batch: Batch | None = await desc.memo_value(BATCH_MEMO, None, type_hint=Batch)
    if batch is None or batch.organization != org:
        raise missing
    if desc.status != WorkflowExecutionStatus.RUNNING and batch.status is BatchStatus.running:
        # Terminated outside Recast (the Web UI): its jobs go on, but nobody counts them any more.
        batch.status = BatchStatus.canceled
    return batch


async def cancel(client: Client, batch: Batch) -> Batch:
    if batch.status is not BatchStatus.running:
        raise ApiError(409, "not-cancelable", f"the batch is already {batch.status.value}")
    handle = client.get_workflow_handle(batch.id)
    try:
        done: Batch = await handle.execute_update(
            UPDATE_CANCEL, result_type=Batch, rpc_timeout=timedelta(seconds=CANCEL_TIMEOUT_S)
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        code = cause.type if isinstance(cause, ApplicationError) and cause.type else "conflict"
        raise ApiError(409, code, str(getattr(cause, "message", None) or err)) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "not-cancelable", f"batch {batch.id} has already finished") from err
        raise ApiError(503, "unavailable", f"the batch did not answer in time ({err.message})") from err
    return done

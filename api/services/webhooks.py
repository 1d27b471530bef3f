"""`/v1/jobs/{id}/webhooks`: the job's webhook delivery log, and sending a delivery again.

The log is what the worker recorded in storage (recast/infra/webhook_log.py). A redelivery starts a
`WebhookRedelivery` workflow (workflows/redeliver.py) with the delivery as first scheduled and the
job's secret (read from the job's start, since the log never stores it); it works the same on running
and finished jobs, as long as Temporal still holds the job.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.errors import ApiError
from api.job_store import JobStore
from recast.core.contract import REDELIVERY_WORKFLOW_TYPE
from recast.core.job import Job
from recast.core.webhooks import DeliveryList, Redelivery, RedeliveryParams, summarize
from recast.infra import webhook_log
from recast.infra.config import Settings
from recast.infra.storage import Storage


async def deliveries(storage: Storage, job: Job) -> DeliveryList:
    now = datetime.now(UTC)
    log = await webhook_log.load_log(storage, job.organization, job.id)
    return DeliveryList(data=[summarize(stored, attempts, now) for stored, attempts in log])


async def redeliver(
    storage: Storage, store: JobStore, settings: Settings, job: Job, delivery_id: str
) -> Redelivery:
    stored = await webhook_log.load_delivery(storage, job.organization, job.id, delivery_id)
    if stored is None:
        raise ApiError(404, "not-found", f"job {job.id} has no webhook delivery {delivery_id}")
    params = await store.start_params(job.id)
    if params is None:
        raise ApiError(404, "not-found", f"no job {job.id}")
    redelivery_id = f"rdl_{secrets.token_hex(10)}"
    delivery = stored.delivery.model_copy(
        update={"secret": params.webhook.secret if params.webhook else None, "redelivery": redelivery_id}
    )
    try:
        await store.client.start_workflow(
            REDELIVERY_WORKFLOW_TYPE,  # by name: the API does not import the workflow's code
            RedeliveryParams(delivery=delivery, retry_s=settings.webhook_retry_s),
            id=f"{job.id}-{redelivery_id}",
            task_queue=store.task_queue,
        )
    except (RPCError, WorkflowAlreadyStartedError) as err:
        raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err
    return Redelivery(id=redelivery_id, delivery_id=delivery_id, event=delivery.event)

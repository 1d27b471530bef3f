"""`/v1/jobs/{id}/webhooks`: the job's webhook deliveries, each with its attempts, and redelivery."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import JobDep, JobStoreDep, SettingsDep, StorageDep
from api.errors import ERROR_RESPONSES
from api.services import webhooks
from recast.core.webhooks import DeliveryList, Redelivery

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


@router.get(
    "/jobs/{job_id}/webhooks",
    response_model=DeliveryList,
    summary="List a job's webhook deliveries",
    description="Each delivery (one event sent to the job's `webhook_url`) with its attempts: response "
    "status, timing and error of every POST, and whether it was delivered, is being retried or was given "
    "up. A delivery is listed from its first attempt on.",
)
async def list_deliveries(job: JobDep, storage: StorageDep) -> DeliveryList:
    return await webhooks.deliveries(storage, job)


@router.post(
    "/jobs/{job_id}/webhooks/{delivery_id}/redeliver",
    status_code=202,
    response_model=Redelivery,
    summary="Send a webhook delivery again",
    description="Sends the delivery again as it was first sent (same body, same `webhook-id` and "
    "`Recast-Delivery`, fresh timestamp and signatures), retried like the first time; running and "
    "finished jobs alike. Its attempts join the delivery's `history`, marked with the redelivery's id.",
)
async def redeliver(
    job: JobDep, delivery_id: str, storage: StorageDep, store: JobStoreDep, settings: SettingsDep
) -> Redelivery:
    return await webhooks.redeliver(storage, store, settings, job, delivery_id)

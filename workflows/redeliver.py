"""WebhookRedelivery: send one webhook delivery of a job again, as `POST …/webhooks/{id}/redeliver` asks.

A workflow of its own rather than an update on the job's TranscodeJob: a finished job's workflow is
closed and can schedule nothing, and this way running and finished jobs are redelivered alike, the job's
workflow (and the histories it must replay) is untouched, and the redelivery is retried with the same
backoff as the first delivery, durably. It never fails: a delivery given up returns None.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from recast.core import contract
    from recast.core.webhooks import WEBHOOK_RETRY, RedeliveryParams


@workflow.defn(name=contract.REDELIVERY_WORKFLOW_TYPE)
class WebhookRedelivery:
    @workflow.run
    async def run(self, params: RedeliveryParams) -> int | None:
        try:
            return await workflow.execute_activity(
                contract.deliver_webhook,
                params.delivery,
                schedule_to_close_timeout=timedelta(seconds=params.retry_s),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=WEBHOOK_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("redelivery of %s given up", params.delivery.delivery_id)
            return None

"""deliver_webhook: POST one signed webhook event; Temporal retries it with backoff until it lands.

Each attempt is recorded in the job's delivery log in storage (recast/infra/webhook_log.py), which
`GET /v1/jobs/{id}/webhooks` lists; a log that cannot be written never fails the delivery.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.core import contract
from recast.core.webhooks import DeliveryAttempt, StoredDelivery, WebhookDelivery, request_parts, skipped
from recast.infra import net, webhook_log

TIMEOUT_S = 10.0


class CallbackActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.DELIVER_WEBHOOK)
    async def deliver_webhook(self, delivery: WebhookDelivery) -> int:
        """Returns the receiver's 2xx status; anything else raises a retryable `webhook-failed`, except a
        target the SSRF guard refuses (`forbidden-url`) or an unusable URL, which are not retried."""
        if skipped(delivery):
            # A Convertly job's receiver hears only Convertly's events; nothing was sent, nothing logged.
            return 204
        started, clock = datetime.now(UTC), time.monotonic()
        status: int | None = None
        try:
            status = await self._post(delivery)
        except ApplicationError as err:
            status = err.details[0] if err.details and isinstance(err.details[0], int) else None
            await self._record(delivery, started, clock, status, err.message, err.non_retryable)
            raise
        await self._record(delivery, started, clock, status, None, False)
        return status

    async def _post(self, delivery: WebhookDelivery) -> int:
        parts = urlsplit(delivery.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApplicationError(
                f"the webhook URL must be an absolute http(s) URL (scheme {parts.scheme!r})",
                type="webhook-invalid",
                non_retryable=True,
            )
        # A fresh timestamp (and signature) on every attempt, so a retried delivery is never stale;
        # Recast-Delivery (and webhook-id) stay the same across attempts for the receiver to deduplicate on.
        headers, body = request_parts(delivery, str(int(time.time())), self.deps.settings.webhook_secrets)
        # Name only the host in messages: a webhook URL's path or query may carry a token.
        where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        # The guard resolves the host once, checks every address and connects to the one it checked
        # (recast/infra/net.py); the client never follows redirects, so a 3xx cannot lead anywhere else.
        policy = net.policy_for(self.deps.settings.url_allowlist)
        try:
            async with net.guarded_client(policy, timeout=TIMEOUT_S) as client:
                resp = await client.post(delivery.url, content=body, headers=headers)
        except net.ForbiddenUrl as exc:
            # Retrying would be refused again; the job itself is never failed by a webhook.
            raise ApplicationError(
                f"webhook {delivery.event} to {where} is refused: {exc}",
                type="forbidden-url",
                non_retryable=True,
            ) from exc
        except httpx.InvalidURL as exc:
            raise ApplicationError(
                f"the webhook URL is not valid: {exc}", type="webhook-invalid", non_retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise ApplicationError(
                f"webhook {delivery.event} to {where} failed: {type(exc).__name__}: {exc}",
                type="webhook-failed",
            ) from exc
        if not 200 <= resp.status_code < 300:
            raise ApplicationError(
                f"webhook {delivery.event} to {where} returned HTTP {resp.status_code}",
                resp.status_code,  # details: the delivery log's response status
                type="webhook-failed",
            )
        return resp.status_code

    async def _record(
        self,
        delivery: WebhookDelivery,
        started: datetime,
        clock: float,
        status: int | None,
        error: str | None,
        final: bool,
    ) -> None:
        info = activity.info()
        window = info.schedule_to_close_timeout
        attempt = DeliveryAttempt(
            attempt=info.attempt,
            redelivery=delivery.redelivery,
            started_at=started,
            duration_ms=round((time.monotonic() - clock) * 1000),
            response_status=status,
            error=error,
            final=final,
            retry_window_s=window.total_seconds() if window else None,
        )
        job = delivery.job
        if job is None:  # batch.completed: the delivery log is kept per job
            return
        try:
            await webhook_log.save_delivery(
                self.deps.storage,
                StoredDelivery(
                    delivery=delivery.model_copy(update={"secret": None, "redelivery": None}),
                    # When the workflow scheduled it (a retry's own schedule time is later).
                    created_at=info.current_attempt_scheduled_time if info.attempt == 1 else job.updated_at,
                ),
            )
            await webhook_log.save_attempt(
                self.deps.storage, job.organization, job.id, delivery.delivery_id, attempt
            )
        except Exception as exc:  # the log is for people; the delivery itself has happened
            activity.logger.warning("webhook %s: delivery log not written: %s", delivery.delivery_id, exc)

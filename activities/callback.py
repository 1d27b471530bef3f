"""deliver_webhook: POST one signed webhook event; Temporal retries it with backoff until it lands."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.core import contract
from recast.core.webhooks import WebhookDelivery, request_parts
from recast.infra import net

TIMEOUT_S = 10.0


class CallbackActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.DELIVER_WEBHOOK)
    async def deliver_webhook(self, delivery: WebhookDelivery) -> int:
        """Returns the receiver's 2xx status; anything else raises a retryable `webhook-failed`, except a
        target the SSRF guard refuses (`forbidden-url`) or an unusable URL, which are not retried."""
        parts = urlsplit(delivery.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApplicationError(
                f"the webhook URL must be an absolute http(s) URL (scheme {parts.scheme!r})",
                type="webhook-invalid",
                non_retryable=True,
            )
        # A fresh timestamp (and signature) on every attempt, so a retried delivery is never stale;
        # Recast-Delivery stays the same across attempts for the receiver to deduplicate on.
        headers, body = request_parts(delivery, str(int(time.time())))
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
                type="webhook-failed",
            )
        return resp.status_code

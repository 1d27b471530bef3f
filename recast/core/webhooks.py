"""Webhooks: the delivery payload, its signature and the retry policy of the `deliver_webhook` activity.

Pure and importable inside Temporal's workflow sandbox: no I/O. The workflow builds a
`WebhookDelivery` per event and runs `deliver_webhook` with `WEBHOOK_RETRY` and a
schedule-to-close timeout of `JobSettings.webhook_retry_s`; the activity turns it into a request
with `request_parts`. Receivers check `Recast-Signature` as `verify` does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

from pydantic import BaseModel, field_validator
from temporalio.common import RetryPolicy

from recast.core.batches import Batch
from recast.core.job import Job

EVENT_STATUS_CHANGED = "job.status_changed"
EVENT_OUTPUT_COMPLETED = "output.completed"
EVENT_BATCH_COMPLETED = "batch.completed"
EVENTS = (EVENT_STATUS_CHANGED, EVENT_OUTPUT_COMPLETED, EVENT_BATCH_COMPLETED)

USER_AGENT = "Recast-Webhooks/1"

# No maximum attempts: the workflow bounds the retries with schedule_to_close_timeout.
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)


class WebhookDelivery(BaseModel):
    """The input of `deliver_webhook`: one event for one job, sent to one URL."""

    url: str
    secret: str | None = None
    event: str  # one of EVENTS
    delivery_id: str  # the same on every attempt, so the receiver can deduplicate
    job: Job | None = None  # every job event
    output_id: str | None = None  # set for output.completed
    batch: Batch | None = None  # batch.completed (its body has `batch` instead of `job`)

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if value not in EVENTS:
            raise ValueError(f"unknown webhook event {value!r}; expected one of {', '.join(EVENTS)}")
        return value


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over `timestamp + "." + body`: the `Recast-Signature` header."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True if `signature` matches and `timestamp` is within `tolerance_s` of now (either way)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    expected = _signature(secret, timestamp, body)
    return hmac.compare_digest(expected, signature.strip().lower())


_signature = signature  # `verify` shadows the name with its argument


def body(delivery: WebhookDelivery) -> bytes:
    """The JSON body: `{"event", "job"}` (+ `"output_id"`), the job exactly as the API returns it; for
    `batch.completed`, `{"event", "batch"}`."""
    payload: dict[str, object] = {"event": delivery.event}
    if delivery.job is not None:
        payload["job"] = delivery.job.model_dump(mode="json")
    if delivery.batch is not None:
        payload["batch"] = delivery.batch.model_dump(mode="json")
    if delivery.output_id is not None:
        payload["output_id"] = delivery.output_id
    return json.dumps(payload, separators=(",", ":")).encode()


def request_parts(delivery: WebhookDelivery, timestamp: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of the POST for `delivery`, signed at `timestamp` (unix seconds)."""
    data = body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Recast-Event": delivery.event,
        "Recast-Delivery": delivery.delivery_id,
        "Recast-Timestamp": timestamp,
    }
    if delivery.secret:
        headers["Recast-Signature"] = signature(delivery.secret, timestamp, data)
    return headers, data

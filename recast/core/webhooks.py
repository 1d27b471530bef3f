"""Webhooks: the delivery payload, its signatures, the retry policy of the `deliver_webhook` activity,
and the delivery log's records.

Pure and importable inside Temporal's workflow sandbox: no I/O. The workflow builds a
`WebhookDelivery` per event and runs `deliver_webhook` with `WEBHOOK_RETRY` and a
schedule-to-close timeout of `JobSettings.webhook_retry_s`; the activity turns it into a request
with `request_parts`. Two signatures ride on every delivery: `Recast-Signature` (hex HMAC with the
job's `webhook_secret`, checked as `verify` does) and the Standard Webhooks headers (`webhook-id`,
`webhook-timestamp`, `webhook-signature`), signed with the installation's `whsec_` secrets, the
current one and any previous ones during a rotation, so any Standard Webhooks library verifies them.
Written here rather than taken from the `standardwebhooks` package: signing is a few lines of
hmac/base64, and the worker does not need the package (the tests verify with it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from temporalio.common import RetryPolicy

from recast.core import convertly
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
    # Set when the API asked to send this delivery again: the id of that request (`rdl_…`). The
    # delivery id (and so `webhook-id`) stays the delivery's own, so a receiver deduplicates it.
    redelivery: str | None = None

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


def request_parts(
    delivery: WebhookDelivery, timestamp: str, standard_secrets: Sequence[str] = ()
) -> tuple[dict[str, str], bytes]:
    """Headers and body of the POST for `delivery`, signed at `timestamp` (unix seconds); with
    `standard_secrets` (`whsec_…`, the current one first) also the Standard Webhooks signature. A job
    submitted through the Convertly adapter is called back as Convertly does (recast/core/convertly.py)."""
    if (kind := sent_as(delivery)) is not None and delivery.job is not None:
        return convertly.callback_parts(delivery.job, kind, delivery.delivery_id, timestamp, delivery.secret)
    data = body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Recast-Event": delivery.event,
        "Recast-Delivery": delivery.delivery_id,
        "Recast-Timestamp": timestamp,
        "webhook-id": delivery.delivery_id,
        "webhook-timestamp": timestamp,
    }
    if delivery.secret:
        headers["Recast-Signature"] = signature(delivery.secret, timestamp, data)
    if standard_secrets:
        headers["webhook-signature"] = " ".join(
            standard_signature(s, delivery.delivery_id, timestamp, data) for s in standard_secrets
        )
    return headers, data


def sent_as(delivery: WebhookDelivery) -> str | None:
    """The Convertly event a Convertly job's delivery is sent as (None: a native delivery)."""
    job = delivery.job
    return convertly.event_type(job, delivery.event) if job and convertly.is_convertly(job) else None


def skipped(delivery: WebhookDelivery) -> bool:
    """True for an event a Convertly job's callback receiver is never sent (e.g. `processing`)."""
    return delivery.job is not None and convertly.is_convertly(delivery.job) and sent_as(delivery) is None


# ---------------------------------------------------------------- Standard Webhooks ------------------------

SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES, SECRET_MAX_BYTES = 24, 64  # the spec's advice


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret; ValueError when it is not one (or too short or long)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r} followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"a webhook secret is {SECRET_PREFIX!r} followed by base64; this is not base64"
        ) from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValueError(
            f"a webhook secret holds {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes, this one {len(key)}"
        )
    return key


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `msg_id.timestamp.body`: one entry of `webhook-signature`."""
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


# ---------------------------------------------------------------- the delivery log -------------------------
# The worker records each attempt in storage (recast/infra/webhook_log.py); the API lists them as
# `Delivery` items. These are what both sides (and the SDK) agree on.


class DeliveryAttempt(BaseModel):
    """One POST of a delivery, as the worker recorded it."""

    attempt: int = Field(description="1 for the first POST of this run; a redelivery starts at 1 again.")
    redelivery: str | None = Field(default=None, description="The redelivery (`rdl_…`) this POST belongs to.")
    started_at: datetime
    duration_ms: int
    response_status: int | None = Field(description="The receiver's HTTP status; null if none came back.")
    error: str | None = Field(default=None, description="Why the attempt failed; null when it succeeded.")
    final: bool = Field(
        default=False, description="A failure that is not retried (a refused or unusable URL)."
    )
    retry_window_s: float | None = Field(
        default=None, description="How long this run of the delivery is retried from its first attempt."
    )

    @property
    def ok(self) -> bool:
        return self.error is None


class StoredDelivery(BaseModel):
    """What a redelivery sends again: the delivery as first scheduled, without the job's secret."""

    delivery: WebhookDelivery
    created_at: datetime


DeliveryState = Literal["delivered", "retrying", "failed"]


class Delivery(BaseModel):
    """One webhook delivery of a job: an item of `GET /v1/jobs/{id}/webhooks`."""

    id: str = Field(description="The delivery id: `Recast-Delivery` and `webhook-id` of every attempt.")
    event: str
    output_id: str | None = None
    url: str
    state: DeliveryState = Field(
        description="`delivered` once a POST got a 2xx; `failed` when given up (or refused); else `retrying`."
    )
    attempts: int = Field(description="POSTs made, redeliveries included.")
    response_status: int | None = Field(description="The last attempt's HTTP status (null: no response).")
    error: str | None = Field(default=None, description="The last attempt's failure, if it failed.")
    created_at: datetime = Field(description="When the event happened and the delivery was scheduled.")
    first_attempt_at: datetime
    last_attempt_at: datetime
    duration_ms: int = Field(description="The last attempt's duration.")
    redeliveries: int = 0
    history: list[DeliveryAttempt] = Field(description="Every attempt, oldest first.")


class DeliveryList(BaseModel):
    data: list[Delivery] = Field(description="The job's deliveries, oldest first.")


class Redelivery(BaseModel):
    """The answer of `POST /v1/jobs/{id}/webhooks/{delivery_id}/redeliver`."""

    id: str = Field(description="`rdl_…`: this redelivery; its attempts carry it in the delivery log.")
    delivery_id: str
    event: str


class RedeliveryParams(BaseModel):
    """The input of the `WebhookRedelivery` workflow."""

    delivery: WebhookDelivery
    retry_s: float


def summarize(stored: StoredDelivery, attempts: list[DeliveryAttempt], now: datetime) -> Delivery:
    """A delivery as the log lists it, from its record and its attempts (at least one)."""
    attempts = sorted(attempts, key=lambda a: (a.started_at, a.attempt))
    last = attempts[-1]
    # The state of the latest run: the original delivery's, or the last redelivery's.
    run = [a for a in attempts if a.redelivery == last.redelivery]
    state: DeliveryState = "retrying"
    if any(a.ok for a in run):
        state = "delivered"
    elif last.final or (
        # given up once the run's retry window, counted from its first attempt, has passed
        last.retry_window_s is not None and (now - run[0].started_at).total_seconds() >= last.retry_window_s
    ):
        state = "failed"
    d = stored.delivery
    return Delivery(
        id=d.delivery_id,
        event=d.event,
        output_id=d.output_id,
        url=d.url,
        state=state,
        attempts=len(attempts),
        response_status=last.response_status,
        error=last.error,
        created_at=stored.created_at,
        first_attempt_at=attempts[0].started_at,
        last_attempt_at=last.started_at,
        duration_ms=last.duration_ms,
        redeliveries=len({a.redelivery for a in attempts if a.redelivery}),
        history=attempts,
    )

"""The webhook delivery log, kept in storage beside the job's files.

The `deliver_webhook` activity records every POST it makes, one object per attempt, under
`{org}/jobs/{job_id}/webhooks/{delivery_id}/`: `delivery.json` (the delivery as first scheduled,
without the job's secret: what a redelivery sends again) and `attempts/{ms}-{n}.json`. One object per
attempt, never read-modify-write, so a redelivery running beside the original's retries loses nothing.
The API lists them (`GET /v1/jobs/{id}/webhooks`). Kept in storage rather than read back from the
workflow's history: a history keeps only the last failure of a retried activity, not each attempt's
status, and a redelivery runs in a workflow of its own.
"""

from __future__ import annotations

import re
from collections import defaultdict

import opendal

from recast.core.webhooks import DeliveryAttempt, StoredDelivery
from recast.infra.storage import Storage

DELIVERY_ID = re.compile(r"^dlv_[A-Za-z0-9]{1,40}$")


def log_prefix(organization: str, job_id: str) -> str:
    return f"{organization}/jobs/{job_id}/webhooks/"


def delivery_key(organization: str, job_id: str, delivery_id: str) -> str:
    return f"{log_prefix(organization, job_id)}{delivery_id}/delivery.json"


def attempt_key(organization: str, job_id: str, delivery_id: str, attempt: DeliveryAttempt) -> str:
    ms = int(attempt.started_at.timestamp() * 1000)
    run = attempt.redelivery or "first"
    return (
        f"{log_prefix(organization, job_id)}{delivery_id}/attempts/{ms:014d}-{run}-{attempt.attempt:04d}.json"
    )


async def save_delivery(storage: Storage, stored: StoredDelivery) -> None:
    d = stored.delivery
    key = delivery_key(d.job.organization, d.job.id, d.delivery_id)
    if not await storage.op.exists(key):
        await storage.op.write(key, stored.model_dump_json().encode())


async def save_attempt(
    storage: Storage, organization: str, job_id: str, delivery_id: str, attempt: DeliveryAttempt
) -> None:
    key = attempt_key(organization, job_id, delivery_id, attempt)
    await storage.op.write(key, attempt.model_dump_json().encode())


async def load_delivery(
    storage: Storage, organization: str, job_id: str, delivery_id: str
) -> StoredDelivery | None:
    if not DELIVERY_ID.match(delivery_id):
        return None  # never a path outside the job's log
    try:
        raw = await storage.op.read(delivery_key(organization, job_id, delivery_id))
    except opendal.exceptions.NotFound:
        return None
    return StoredDelivery.model_validate_json(bytes(raw))


async def load_log(
    storage: Storage, organization: str, job_id: str
) -> list[tuple[StoredDelivery, list[DeliveryAttempt]]]:
    """Every delivery of the job that has made an attempt, with its attempts; oldest first."""
    prefix = log_prefix(organization, job_id)
    attempts: dict[str, list[DeliveryAttempt]] = defaultdict(list)
    records: dict[str, StoredDelivery] = {}
    try:
        entries = await storage.op.list(prefix, recursive=True)
        paths = [entry.path async for entry in entries]
    except opendal.exceptions.NotFound:
        return []
    for path in sorted(paths):
        if path.endswith("/"):
            continue
        delivery_id, _, rest = path[len(prefix) :].partition("/")
        raw = bytes(await storage.op.read(path))
        if rest == "delivery.json":
            records[delivery_id] = StoredDelivery.model_validate_json(raw)
        elif rest.startswith("attempts/"):
            attempts[delivery_id].append(DeliveryAttempt.model_validate_json(raw))
    found = [(records[d], sorted(a, key=lambda x: x.started_at)) for d, a in attempts.items() if d in records]
    return sorted(found, key=lambda pair: (pair[0].created_at, pair[1][0].started_at))

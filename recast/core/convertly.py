"""Convertly's view of a job: the body of its `GET /api/jobs/{id}` and of its callbacks, and how a
callback is signed. One definition for the API adapter (api/compat/convertly.py) and the webhook
activity (activities/callback.py), which signs a Convertly job's deliveries this way instead of
Recast's. Pure; importable inside Temporal's workflow sandbox.

Convertly's async-jobs document says a callback is signed as HMAC_SHA256(timestamp.body) and sent in
`Convertly-Signature`; its webhooks guide gives the rest, followed here: the header's value is
`t={timestamp},v1={hex hmac}`, the timestamp also in `convertly-timestamp`, the event in
`convertly-event`, and the body an envelope `{"id", "type", "created", "data"}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from recast.core.job import Job, JobStatus, Output, OutputStatus

API = "convertly"
USER_AGENT = "Convertly-Webhooks/1.0"
# Job.compat keys
TOOL = "tool"
JOB_TYPE = "job_type"

_STATUS = {
    JobStatus.pending: "pending",
    JobStatus.probing: "processing",
    JobStatus.awaiting_confirmation: "processing",
    JobStatus.processing: "processing",
    JobStatus.completed: "completed",
    # Some files made, some not: the batch finished and its results are there (failed ones marked).
    JobStatus.partial: "completed",
    JobStatus.failed: "failed",
    JobStatus.canceled: "failed",
}


def is_convertly(job: Job) -> bool:
    return job.compat.get("api") == API


def status(job: Job) -> str:
    """pending, processing, completed or failed: Convertly's four."""
    return _STATUS[job.status]


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def result(out: Output, input_size: int | None, url: str | None) -> dict[str, object]:
    """One output file, in the fields Convertly's synchronous media tools answer with."""
    return {
        "id": out.id,
        "filename": out.filename,
        "format": out.type.value,
        "mimeType": out.content_type,
        "status": out.status.value,
        "originalSize": input_size,
        "finalSize": out.file_size_bytes,
        "downloadUrl": url if out.status is OutputStatus.completed else None,
        "errorMessage": out.error_message,
    }


def job_view(job: Job, urls: dict[str, str] | None = None) -> dict[str, object]:
    """The job as `GET /api/jobs/{id}` answers it. `urls`: fresh download links by output ID (the API
    signs them per read); without one a completed output shows the link signed when it finished."""
    size = job.input_metadata.file_size_bytes if job.input_metadata else job.input.size
    outs = job.outputs
    view: dict[str, object] = {"jobId": job.id, "status": status(job)}
    if TOOL in job.compat:
        view["tool"] = job.compat[TOOL]
    else:
        view["jobType"] = job.compat.get(JOB_TYPE, "convert")
    error = job.error_message
    if error is None and job.status in (JobStatus.failed, JobStatus.canceled):
        error = next((o.error_message for o in outs if o.error_message), job.status.value)
    view.update(
        {
            "progress": job.progress,
            "totalFiles": len(outs),
            "completedFiles": sum(o.status is OutputStatus.completed for o in outs),
            "failedFiles": sum(o.status in (OutputStatus.failed, OutputStatus.canceled) for o in outs),
            "results": [result(o, size, (urls or {}).get(o.id, o.download_url)) for o in outs],
            "errorMessage": error,
            "createdAt": _time(job.created_at),
            "updatedAt": _time(job.updated_at),
            "completedAt": _time(job.completed_at),
        }
    )
    return view


def event_type(job: Job, event: str) -> str | None:
    """The Convertly event a Recast webhook event of this job becomes, or None when Convertly sends none:
    a tool job tells only its end (`media.tool.completed` / `media.tool.failed`); a conversion job its
    start, each finished file (`conversion.progress`) and its end."""
    tool = TOOL in job.compat
    if event == "output.completed":
        return None if tool else "conversion.progress"
    if event != "job.status_changed":
        return None
    if job.status.terminal:
        ok = status(job) == "completed"
        if tool:
            return "media.tool.completed" if ok else "media.tool.failed"
        return "conversion.completed" if ok else "conversion.failed"
    if job.status is JobStatus.probing and not tool:
        return "conversion.started"
    return None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`Convertly-Signature`: `t={timestamp},v1={hex HMAC-SHA256 of "{timestamp}.{body}"}`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def callback_parts(
    job: Job, event: str, delivery_id: str, timestamp: str, secret: str | None
) -> tuple[dict[str, str], bytes]:
    """Headers and body of one Convertly callback: the envelope with the job as `data`."""
    envelope = {
        "id": "evt_" + delivery_id.removeprefix("dlv_"),
        "type": event,
        "created": int(timestamp),
        "data": job_view(job),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Convertly-Event": event,
        "Convertly-Timestamp": timestamp,
        # The same id on every attempt, as for Recast's own deliveries: receivers deduplicate on it.
        "webhook-id": delivery_id,
    }
    if secret:
        headers["Convertly-Signature"] = signature(secret, timestamp, body)
    return headers, body

"""Payloads for calling activities directly (in Temporal's ActivityEnvironment, no worker): an encode
request for a real file, an input placed in storage, a webhook delivery of a made-up job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.deps import Deps
from recast.core.formats import OutputType, VideoCodec
from recast.core.job import InputInfo, Job, JobStatus, Output
from recast.core.payloads import EncodeRequest
from recast.core.specs import OutputSpec, VideoVariant
from recast.core.webhooks import EVENT_STATUS_CHANGED, WebhookDelivery
from recast.media import probe

WEBHOOK_SECRET = "whsec_test"


def request(deps: Deps, src: Path, spec: dict[str, Any], job_id: str) -> EncodeRequest:
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(src)), src.stat().st_size)
    return EncodeRequest(
        job_id=job_id,
        organization="acme",
        output_id="out_1",
        spec=OutputSpec.model_validate(spec),
        input_key="unused",
        input_metadata=meta,
        stall_timeout_s=30,
    )


def place_input(deps: Deps, src: Path, key: str) -> None:
    path = deps.storage.local_path(key)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(src.read_bytes())


def make_job(status: JobStatus = JobStatus.processing) -> Job:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Job(
        id="job_w1",
        organization="acme",
        status=status,
        input=InputInfo(filename="clip.mp4", size=123),
        outputs=[Output(id="out_1", type=OutputType.mp4, video=[VideoVariant(codec=VideoCodec.h264)])],
        metadata={"customer": "c-42"},
        webhook_url="http://example.invalid/hook",
        created_at=at,
        updated_at=at,
    )


def delivery(url: str, secret: str | None = WEBHOOK_SECRET, **kw: Any) -> WebhookDelivery:
    return WebhookDelivery(
        url=url, secret=secret, event=EVENT_STATUS_CHANGED, delivery_id="dlv_1", job=make_job(), **kw
    )

"""The pure parts of retries, templates and batches: the merged view of a retried job, overrides merged
into a spec, a template applied to a job's fields, a batch's counts and cost sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recast.core import pricing, retries
from recast.core.batches import Batch, BatchCounts, count_ended
from recast.core.formats import OutputType
from recast.core.job import InputInfo, Job, JobStatus, Output, OutputStatus
from recast.core.specs import OutputSpec
from recast.core.templates import Template, TemplateError, apply
from recast.core.webhooks import EVENT_BATCH_COMPLETED, WebhookDelivery, body

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _job(job_id: str, status: JobStatus, outputs: list[tuple[str, OutputStatus]], attempt: int = 0) -> Job:
    return Job(
        id=job_id,
        organization="acme",
        status=status,
        input=InputInfo(),
        outputs=[
            Output(id=i, type=OutputType.mp4, status=s, error_code="encode-failed" if s == "failed" else None)
            for i, s in outputs
        ],
        created_at=T0 + timedelta(minutes=attempt),
        updated_at=T0 + timedelta(minutes=attempt),
        completed_at=T0 + timedelta(minutes=attempt, seconds=30) if status.terminal else None,
        retry_of="job_a" if attempt else None,
        attempt=attempt,
        total_actual_cost=0.01,
    )


def test_a_retried_job_reads_as_its_outputs_latest_results() -> None:
    first = _job(
        "job_a", JobStatus.partial, [("out_1", OutputStatus.completed), ("out_2", OutputStatus.failed)]
    )
    assert retries.merged(first, []) is first
    running = _job("job_a-r1", JobStatus.processing, [("out_2", OutputStatus.processing)], attempt=1)
    job = retries.merged(first, [running])
    assert job.status is JobStatus.processing and job.completed_at is None and job.error_code is None
    assert [o.status for o in job.outputs] == [OutputStatus.completed, OutputStatus.processing]
    assert [(a.attempt, a.job_id, a.outputs) for a in job.attempts] == [
        (0, "job_a", ["out_1", "out_2"]),
        (1, "job_a-r1", ["out_2"]),
    ]
    assert first.outputs[1].status is OutputStatus.failed  # the first run's Job is not changed

    done = _job("job_a-r1", JobStatus.completed, [("out_2", OutputStatus.completed)], attempt=1)
    job = retries.merged(first, [done])
    assert job.status is JobStatus.completed and job.error_code is None
    assert job.completed_at == done.completed_at and job.total_actual_cost == pytest.approx(0.02)

    failed = _job("job_a-r1", JobStatus.failed, [("out_2", OutputStatus.failed)], attempt=1)
    job = retries.merged(first, [failed])
    assert job.status is JobStatus.partial and job.error_code == "encode-failed"
    assert retries.run_id("job_a", 2) == "job_a-r2"


def test_overrides_merge_into_a_spec_key_by_key() -> None:
    spec = OutputSpec.model_validate({"type": "webm", "video": {"codec": "vp9", "resolution": "720p"}})
    base = spec.model_dump(mode="json")
    merged = retries.deep_merge(base, {"video": {"quality": "economy"}, "audio": {"bitrate": 64}})
    again = OutputSpec.model_validate(merged)
    assert again.video[0].resolution == spec.video[0].resolution and again.video[0].quality == "economy"
    assert again.audio.bitrate == 64 and again.audio.channels == 2
    # A list given replaces the list.
    two = retries.deep_merge(base, {"video": [{"codec": "vp9"}, {"codec": "vp9", "height": 240}]})
    assert len(two["video"]) == 2


def _template(**fields: object) -> Template:
    return Template.model_validate({"name": "web", "version": 3, "created_at": T0, **fields})


def test_a_template_fills_what_the_job_does_not_give_and_refuses_locked_fields() -> None:
    template = _template(
        outputs=[{"type": "mp3"}], priority="economy", metadata={"a": "1"}, locked=["outputs"]
    )
    raw = {"input_url": "https://x/y.mp4", "priority": "premium", "metadata": {}, "thumbnails": []}
    merged = apply(template, raw)
    assert merged["priority"] == "premium"  # not locked: the job's own
    assert merged["metadata"] == {"a": "1"}  # an empty form field is no override
    assert merged["outputs"][0]["type"] == "mp3"
    with pytest.raises(TemplateError) as err:
        apply(template, {**raw, "outputs": [{"type": "wav"}]})
    assert err.value.field == "outputs" and "version 3" in str(err.value)
    # A locked field the template leaves unset stays unset.
    with pytest.raises(TemplateError):
        apply(_template(locked=["webhook_url"]), {"webhook_url": "https://hooks.example.com/"})


def test_batch_counts_and_costs() -> None:
    counts = BatchCounts(queued=0, running=3)
    for status in (JobStatus.completed, JobStatus.partial, JobStatus.processing):
        count_ended(counts, status)
    assert (counts.running, counts.completed, counts.partial, counts.failed) == (0, 1, 1, 1)
    assert pricing.total([None, None]) is None
    assert pricing.total([0.1, None, 0.2]) == pytest.approx(0.3)


def test_batch_completed_body_carries_the_batch() -> None:
    batch = Batch(
        id="bat_1",
        organization="acme",
        total=2,
        counts=BatchCounts(completed=2),
        created_at=T0,
        updated_at=T0,
    )
    delivery = WebhookDelivery(
        url="https://h/", event=EVENT_BATCH_COMPLETED, delivery_id="dlv_bat_1", batch=batch
    )
    sent = body(delivery)
    assert b'"event":"batch.completed"' in sent and b'"batch":{"id":"bat_1"' in sent and b'"job"' not in sent

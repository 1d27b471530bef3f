"""Retention and lifecycle rules without a server: the duration settings, when a job's files expire (what the
API shows), when an upload expires, and which stored objects the cleanup considers Recast's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from activities.cleanup import classify
from recast.core.formats import OutputType
from recast.core.job import Job, JobStatus, Output
from recast.core.lifecycle import cleanup_schedule_id, outputs_expire_at, with_expiry
from recast.infra.config import Settings
from recast.infra.config_text import explain
from recast.infra.uploads import UploadManifest, upload_expires_at

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("86400", 86400), ("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 5400), ("45s", 45), ("1.5d", 129600)],
)
def test_durations_read_seconds_or_a_unit(value: str, seconds: int) -> None:
    assert Settings(output_ttl_s=value).output_ttl_s == seconds  # type: ignore[arg-type]


def test_lifecycle_defaults_are_thirty_days_and_hourly() -> None:
    defaults = {name: Settings.model_fields[name].default for name in ("job_retention_s", "output_ttl_s")}
    assert defaults == {"job_retention_s": 30 * 86400, "output_ttl_s": 30 * 86400}
    assert Settings.model_fields["cleanup_interval_s"].default == 3600


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("output_ttl_s", "2 weeks", "RECAST_OUTPUT_TTL"),
        ("job_retention_s", "2h", "RECAST_JOB_RETENTION"),  # under Temporal Cloud's minimum of a day
        ("cleanup_interval_s", "0", "RECAST_CLEANUP_INTERVAL"),
    ],
)
def test_bad_durations_are_named(field: str, value: str, variable: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings.model_validate({field: value})
    assert explain(err.value, Settings).startswith(f"{variable}: must be seconds, or a number with a unit")


def job(status: JobStatus, completed_at: datetime | None) -> Job:
    return Job(
        id="job_x",
        organization="acme",
        status=status,
        input={},  # type: ignore[arg-type]
        outputs=[],
        created_at=T0,
        updated_at=T0,
        completed_at=completed_at,
    )


def test_a_finished_jobs_files_expire_ttl_after_it_ended() -> None:
    done = job(JobStatus.completed, T0)
    assert outputs_expire_at(done, 60) == T0 + timedelta(seconds=60)
    assert with_expiry(done, 60, T0 + timedelta(seconds=59)).outputs_expired is False
    assert with_expiry(done, 60, T0 + timedelta(seconds=60)).outputs_expired is True
    signed = job(JobStatus.completed, T0)
    signed.outputs = [
        Output(id="out_x", type=OutputType.mp4, download_url="https://x", download_expires_at=T0)
    ]
    assert with_expiry(signed, 60, T0).outputs[0].download_url == "https://x"
    expired = with_expiry(signed, 60, T0 + timedelta(seconds=61)).outputs[0]
    assert (expired.download_url, expired.download_expires_at) == (None, None)  # they lead nowhere now
    for status in (JobStatus.failed, JobStatus.partial, JobStatus.canceled):
        assert with_expiry(job(status, T0), 60, T0 + timedelta(days=1)).outputs_expired is True


def test_a_running_job_and_ttl_zero_never_expire() -> None:
    running = with_expiry(job(JobStatus.processing, None), 60, T0 + timedelta(days=365))
    assert (running.outputs_expire_at, running.outputs_expired) == (None, False)
    kept = with_expiry(job(JobStatus.completed, T0), 0, T0 + timedelta(days=365))
    assert (kept.outputs_expire_at, kept.outputs_expired) == (None, False)


def test_an_upload_expires_ttl_after_creation_but_not_before_its_url() -> None:
    manifest = UploadManifest(
        upload_id="up_x",
        organization="acme",
        filename="a.mp4",
        size=1,
        content_type="video/mp4",
        key="acme/uploads/up_x/data/a.mp4",
        created_at=T0,
        expires_at=T0 + timedelta(hours=24),
    )
    assert upload_expires_at(manifest, 30 * 86400) == T0 + timedelta(days=30)
    assert upload_expires_at(manifest, 3600) == T0 + timedelta(hours=24)  # the upload may still be sent
    assert upload_expires_at(manifest, 0) is None


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("acme/jobs/job_1/input/a.mp4", ("job", "acme/jobs/job_1/", "acme", "job_1")),
        ("acme/jobs/job_1/outputs/out_1/720p/seg.m4s", ("job", "acme/jobs/job_1/", "acme", "job_1")),
        ("acme/uploads/up_1/upload.json", ("upload", "acme/uploads/up_1/", "acme", "up_1")),
        ("acme/outputs/r/2026/x.mp4", ("output", "acme/outputs/r/2026/x.mp4", "acme", "r/2026/x.mp4")),
        ("acme/notes/readme.txt", None),
        ("acme/jobs/notajob/x", None),
        ("readme.txt", None),
        ("acme/uploads/up_1", None),
    ],
)
def test_only_recasts_own_objects_are_cleanup_units(path: str, unit: tuple[str, ...] | None) -> None:
    assert classify(path) == unit


def test_the_schedule_is_named_after_its_task_queue() -> None:
    assert cleanup_schedule_id("recast") == "recast-cleanup"

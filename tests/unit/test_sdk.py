"""The SDK's pieces that need no stack: the events parser, reopening a dropped stream, error answers
→ RecastError, where downloads may go, and the bodies of batches and templates. tests/e2e/test_sdk.py and
tests/e2e/test_sdk_batches_templates.py run the clients against a stack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from recast.client import RecastError
from recast.client.base import (
    RECONNECTS,
    Reconnects,
    SseDecoder,
    batch_body,
    batch_of,
    batch_over,
    check,
    job_body,
    plan,
    template_body,
)
from recast.core.batches import Batch, BatchCounts, BatchStatus
from recast.core.job import OutputStatus
from recast.core.payloads import DownloadFile
from recast.core.requests import JobCreate
from recast.core.responses import BatchWithJobs, DownloadLink, JobEvent
from recast.core.specs import OutputSpec
from recast.core.templates import Template
from tests.helpers import make_job


def test_sse_decoder_reads_events_and_skips_comments() -> None:
    job = make_job()
    data = JobEvent(event="snapshot", job=job, server_time=datetime.now(UTC)).model_dump_json()
    decoder = SseDecoder()
    lines = ["event: snapshot", "data: " + data, "", ": a comment", "", "event: heartbeat"]
    got = [e for line in lines if (e := decoder.feed(line)) is not None]
    assert [e.event for e in got] == ["snapshot"] and got[0].job == job


def test_reconnects_back_off_then_give_up_and_never_retry_an_error_answer() -> None:
    r = Reconnects("job_x")
    pauses = [r.pause(None) for _ in range(RECONNECTS)]
    assert pauses == sorted(pauses) and pauses[-1] <= 5
    with pytest.raises(RecastError) as err:
        r.pause(None)
    assert err.value.code == "unreachable"
    with pytest.raises(RecastError) as err:
        Reconnects("job_x").pause(RecastError(404, "not-found", "no job job_x"))
    assert err.value.status == 404


def test_error_answers_carry_code_and_status() -> None:
    body = {"error": {"code": "not-cancelable", "message": "the job is already completed"}}
    with pytest.raises(RecastError) as err:
        check(httpx.Response(409, json=body))
    assert (err.value.status, err.value.code, err.value.message) == (
        409,
        "not-cancelable",
        body["error"]["message"],
    )
    with pytest.raises(RecastError) as err:
        check(httpx.Response(502, text="<html>bad gateway</html>"))
    assert (err.value.status, err.value.code) == (502, "http-502")
    assert check(httpx.Response(200, json={"ok": 1})) == {"ok": 1}


def test_job_body_takes_dicts_and_models() -> None:
    spec = OutputSpec.model_validate({"type": "mp4", "video": [{"codec": "h264"}]})
    body = job_body("https://x/a.mp4", [spec, {"type": "mp3"}], {"priority": "premium", "clip": None})
    assert body["input_url"] == "https://x/a.mp4" and body["priority"] == "premium" and "clip" not in body
    assert body["outputs"][1] == {"type": "mp3"} and body["outputs"][0]["type"] == "mp4"
    # A job from a template may leave its outputs to the template.
    assert job_body("https://x/a.mp4", None, {"template": "web"}) == {
        "input_url": "https://x/a.mp4",
        "template": "web",
    }


def test_batch_body_sends_only_what_each_job_gives() -> None:
    spec = OutputSpec.model_validate({"type": "mp4", "video": [{"codec": "h264"}]})
    model = JobCreate.model_validate({"input_url": "https://x/a.mp4", "outputs": [{"type": "mp3"}]})
    body = batch_body(
        [model, {"input_url": "https://x/b.mp4", "outputs": [spec], "clip": None}],
        {"metadata": {"run": "n"}, "webhook_url": None},
    )
    # No defaults of JobCreate (priority, metadata…): they would override a template's fields.
    assert body["jobs"][0] == {"input_url": "https://x/a.mp4", "outputs": [{"type": "mp3"}]}
    assert body["jobs"][1]["outputs"][0]["video"][0]["codec"] == "h264" and "clip" not in body["jobs"][1]
    assert body["metadata"] == {"run": "n"} and "webhook_url" not in body


def test_template_body_from_a_template_read_back_with_fields_over_it() -> None:
    read = Template.model_validate(
        {"name": "web", "version": 3, "created_at": datetime.now(UTC), "outputs": [{"type": "mp3"}],
         "priority": "economy", "locked": ["outputs"]}
    )  # fmt: skip
    body = template_body(read, {"priority": "premium", "metadata": {"a": "b"}, "clip": None})
    assert not {"name", "version", "created_at", "clip"} & set(body)
    assert body["priority"] == "premium" and body["metadata"] == {"a": "b"} and body["locked"] == ["outputs"]
    assert body["outputs"][0]["type"] == "mp3"
    assert template_body({"outputs": [{"type": "mp3"}]}, {}) == {"outputs": [{"type": "mp3"}]}
    assert template_body(None, {"description": "d"}) == {"description": "d"}


def test_a_batch_read_without_its_page_of_jobs() -> None:
    at = datetime.now(UTC)
    page = BatchWithJobs(
        id="bat_1", organization="o", total=2, counts=BatchCounts(running=2), created_at=at, updated_at=at,
        jobs=[make_job()], next_cursor="c",
    )  # fmt: skip
    batch = batch_of(page)
    assert type(batch) is Batch and batch.counts.running == 2 and not batch_over(batch)
    assert batch_over(batch.model_copy(update={"status": BatchStatus.canceled}))


def test_folder_outputs_stay_inside_their_folder(tmp_path: Path) -> None:
    out = (
        make_job().outputs[0].model_copy(update={"status": OutputStatus.completed, "filename": "master.m3u8"})
    )
    at = datetime.now(UTC)
    files = [
        DownloadFile(name=n, url=f"http://x/{n}", size=1, content_type="x")
        for n in ("master.m3u8", "v0/s.m4s")
    ]
    targets, entry = plan(out, DownloadLink(url="http://x/", expires_at=at, files=files), tmp_path)
    assert entry == tmp_path / "out_1-mp4" / "master.m3u8"
    assert [t.path for t in targets] == [
        tmp_path / "out_1-mp4" / "master.m3u8",
        tmp_path / "out_1-mp4" / "v0/s.m4s",
    ]
    evil = [DownloadFile(name="../../etc/x", url="http://x/", size=1, content_type="x")]
    with pytest.raises(RecastError):
        plan(out, DownloadLink(url="http://x/", expires_at=at, files=evil), tmp_path)

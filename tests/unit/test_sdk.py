"""The SDK's pieces that need no stack: the events parser, reopening a dropped stream, error answers
→ RecastError, and where downloads may go. tests/e2e/test_sdk.py runs the clients against a stack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from recast.client import RecastError
from recast.client.base import RECONNECTS, Reconnects, SseDecoder, check, job_body, plan
from recast.core.job import OutputStatus
from recast.core.payloads import DownloadFile
from recast.core.responses import DownloadLink, JobEvent
from recast.core.specs import OutputSpec
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

"""Logs as an operator reads them: a stack run with RECAST_LOG_FORMAT=json writes one JSON object per
line; every line about a job names it (and its output and attempt, inside an activity); ffmpeg's
command is logged, a signed input URL never shows its signature, and a failed encode logs the tail of
ffmpeg's stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recast.devstack.stack import Stack
from tests.helpers import make_clip, own_api

SIGNATURE = "d0e5f1a2b3c4deadbeef0123456789abcdef0123456789abcdef0123456789ab"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a process's log, each parsed as JSON (a line that is not fails the test)."""
    out = []
    for n, text in enumerate(path.read_text().splitlines(), 1):
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{path.name}:{n} is not JSON: {text!r}") from exc
    return out


def test_json_logs_of_a_job_and_of_a_failed_encode(
    temporal: Stack, http_server: str, tmp_path: Path, clips: dict[str, Path]
) -> None:
    # x265 refuses an 8x8 frame: a real ffmpeg failure, with a reason on stderr. (SVT-AV1's 64 px minimum
    # used to serve here; Recast now refuses those frames before running ffmpeg: frame-too-small.)
    tiny = make_clip(clips["small"].parent / "tiny.mp4", seconds=1, size="8x8")
    signed = (
        f"{http_server}/small.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={ACCESS_KEY_ID}%2F20261206%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Signature={SIGNATURE}"
    )
    data = tmp_path / "stack"
    with own_api(temporal, data, f"recast-{tmp_path.name}", RECAST_LOG_FORMAT="json") as api:
        good = api.http.post(
            "/v1/jobs", json={"input_url": signed, "outputs": [{"type": "mp4", "video": {"codec": "h264"}}]}
        )
        assert good.status_code == 202, good.text
        bad = api.http.post(
            "/v1/jobs",
            json={
                "input_url": f"{http_server}/{tiny.name}",
                "outputs": [{"type": "mp4", "video": {"codec": "h265"}}],
            },
        )
        assert bad.status_code == 202, bad.text
        done, failed = api.wait(good.json()["id"]), api.wait(bad.json()["id"])
        assert done["status"] == "completed", done
        assert failed["status"] == "failed" and failed["error_code"] == "encode-failed", failed
    worker, gateway = lines(data / "worker.log"), lines(data / "api.log")
    everything = (data / "worker.log").read_text() + (data / "api.log").read_text()
    assert SIGNATURE not in everything and ACCESS_KEY_ID not in everything

    for line in worker + gateway:
        assert {"ts", "level", "service", "logger", "msg"} <= line.keys(), line
    # Inside an activity, every line names the job, the attempt, and the output of an output's activity.
    in_activity = [line for line in worker if line["logger"] in ("recast.activity", "recast.ffmpeg")]
    assert in_activity
    for line in in_activity:
        assert line["job_id"] in (done["id"], failed["id"]) and line["attempt"] >= 1, line
        if line.get("activity") == "encode_output":
            assert line["output_id"] in (done["outputs"][0]["id"], failed["outputs"][0]["id"]), line

    def about(job: dict[str, Any], msg: str) -> list[dict[str, Any]]:
        return [line for line in worker if line.get("job_id") == job["id"] and line["msg"].startswith(msg)]

    # The completed job: fetch (its URL redacted), each activity's start and outcome, ffmpeg's command.
    fetching = about(done, "fetching ")
    assert len(fetching) == 1 and "X-Amz-Signature=***" in fetching[0]["msg"], fetching
    for activity in ("fetch_input", "probe_input", "encode_output", "sign_downloads"):
        assert about(done, f"{activity} started"), activity
        (finished,) = about(done, f"{activity} finished")
        assert finished["seconds"] >= 0
    assert about(done, "encode_output finished")[0]["bytes"] == done["outputs"][0]["file_size_bytes"]
    (command,) = about(done, "ffmpeg started")
    assert command["command"].startswith("ffmpeg ") and "libx264" in command["command"]
    assert command["output_id"] == done["outputs"][0]["id"]
    # The workflow's own lines, once each (not again when its history replays).
    assert len(about(done, "job started")) == 1 and len(about(done, "job completed")) == 1
    assert about(done, "output completed")[0]["output_id"] == done["outputs"][0]["id"]

    # The failed job: each attempt logs ffmpeg's exit and the tail of its stderr, then the failure.
    exits = about(failed, "ffmpeg exited with 1")
    assert [line["attempt"] for line in exits] == [1, 2]  # RECAST_ENCODE_ATTEMPTS=2 in the test stack
    assert any("too small" in text for text in exits[0]["stderr_tail"]), exits[0]
    assert all(line["output_id"] == failed["outputs"][0]["id"] for line in exits)
    (gave_up,) = about(failed, "output failed")
    assert gave_up["level"] == "WARNING" and gave_up["error_code"] == "encode-failed"
    assert about(failed, "job failed")

    # The API: uvicorn's access line per request, with status and duration; a job's lines name it.
    access = [line for line in gateway if line["logger"] == "uvicorn.access"]
    submits = [line for line in access if line["method"] == "POST" and line["path"] == "/v1/jobs"]
    assert {line["job_id"] for line in submits} == {done["id"], failed["id"]}
    assert all(line["status"] == 202 and line["duration_ms"] >= 0 for line in submits)
    polls = [line for line in access if line["path"] == f"/v1/jobs/{done['id']}"]
    assert polls and all(line["job_id"] == done["id"] and line["status"] == 200 for line in polls)

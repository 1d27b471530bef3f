"""FFmpeg Micro's transcodes API on Recast (api/compat/ffmpeg_micro.py): the requests of its lesson
(shared/reference/ffmpeg-micro-create-poll-download.txt) replayed over HTTP — create, poll, download —
with the answers checked field by field against its examples, and its `client.mjs` helpers run
unchanged under node (tests/js/ffmpeg-micro/: only the base URL and the key differ). Inputs are served
by a loopback server (the document's gs://your-bucket is Google's), which the test stacks allow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from recast.devstack.stack import ROOT, Stack
from recast.infra.signing import verify
from tests.helpers import SECRET, Api, Server, ffprobe, make_clip, moto_s3, own_api, serving, stream

JS = ROOT / "tests" / "js" / "ffmpeg-micro"
# The poll answer of the lesson's Step 2, field by field.
FIELDS = {
    "id",
    "status",
    "output_url",
    "output_format",
    "duration_seconds",
    "processing_time_seconds",
    "error_message",
    "created_at",
    "completed_at",
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("ffmpeg-micro")
    make_clip(d / "input.mp4", seconds=1, size="1280x720")
    make_clip(d / "second.mp4", seconds=1, size="1280x720")
    (d / "broken.mp4").write_bytes(b"not a video at all\n" * 200)
    with serving(d) as server:
        yield server


def create(api: Api, body: dict[str, Any]) -> httpx.Response:
    """Step 1, as the lesson sends it: JSON with a bearer key."""
    return api.http.post("/v1/transcodes", json=body)


def wait(api: Api, job_id: str, timeout: float = 90) -> tuple[dict[str, Any], list[str]]:
    """Step 2: poll until completed or failed; the job and every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = api.http.get(f"/v1/transcodes/{job_id}")
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        assert set(job) == FIELDS, job
        seen.append(job["status"])
        if job["status"] in ("completed", "failed"):
            return job, seen
        time.sleep(0.2)
    raise AssertionError(f"transcode {job_id} did not settle: {seen}")


def test_create_poll_download(api: Api, inputs: Server, tmp_path: Path) -> None:
    resp = create(
        api,
        {
            "inputs": [{"url": f"{inputs.url}/input.mp4"}],
            "outputFormat": "mp4",
            "preset": {"quality": "medium", "resolution": "720p"},
        },
    )
    # { id: '9193c4b4-…', status: 'pending', ... }
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert set(job) == FIELDS and job["status"] == "pending" and isinstance(job["id"], str)
    assert job["output_url"] is None and job["error_message"] is None and job["completed_at"] is None

    done, seen = wait(api, job["id"])
    # "pending first, then … queued and processing to either completed or failed"
    assert set(seen) <= {"queued", "processing", "completed"} and seen[-1] == "completed", seen
    assert done["id"] == job["id"] and done["output_format"] == "mp4" and done["error_message"] is None
    # output_url is the storage location, not a download URL.
    assert done["output_url"].endswith(".mp4") and not done["output_url"].startswith("http")
    assert isinstance(done["duration_seconds"], float) and done["duration_seconds"] == pytest.approx(
        1, abs=0.1
    )
    assert isinstance(done["processing_time_seconds"], int) and done["processing_time_seconds"] >= 0
    created_at = datetime.fromisoformat(done["created_at"])
    assert datetime.fromisoformat(done["completed_at"]) >= created_at

    # Step 3: { url } — a signed URL that expires after 10 minutes.
    link = api.http.get(f"/v1/transcodes/{job['id']}/download")
    assert link.status_code == 200, link.text
    assert set(link.json()) == {"url"}
    url = link.json()["url"]
    grant = verify(url.rsplit("/", 1)[-1], SECRET)
    assert grant.expires - time.time() == pytest.approx(600, abs=30)
    got = httpx.get(url, timeout=30)  # no key: the URL is the credential
    assert got.status_code == 200
    (tmp_path / "out-720p.mp4").write_bytes(got.content)
    video = stream(ffprobe(tmp_path / "out-720p.mp4"), "video")
    assert video and video["codec_name"] == "h264" and video["height"] == 720


def test_several_inputs_and_presets(api: Api, inputs: Server, tmp_path: Path) -> None:
    """inputs holds 1 to 10 items: several are joined in order; low/480p are the native economy quality
    and 480p; webm is VP9 (checked on the native job, then canceled: VP9 is slow on a busy machine)."""
    urls = [{"url": f"{inputs.url}/input.mp4"}, {"url": f"{inputs.url}/second.mp4"}]
    resp = create(
        api, {"inputs": urls, "outputFormat": "mp4", "preset": {"quality": "low", "resolution": "480p"}}
    )
    assert resp.status_code == 201, resp.text
    done, _ = wait(api, resp.json()["id"])
    assert done["status"] == "completed" and done["output_format"] == "mp4", done
    assert done["duration_seconds"] == pytest.approx(2, abs=0.15)
    native = api.http.get(f"/v1/jobs/{done['id']}").json()  # the same job, natively
    assert native["outputs"][0]["video"][0]["quality"] == "economy" and len(native["inputs"]) == 2
    url = api.http.get(f"/v1/transcodes/{done['id']}/download").json()["url"]
    (tmp_path / "out.mp4").write_bytes(httpx.get(url, timeout=30).content)
    video = stream(ffprobe(tmp_path / "out.mp4"), "video")
    assert video and video["codec_name"] == "h264" and video["height"] == 480

    webm = create(
        api, {"inputs": urls[:1], "outputFormat": "webm", "preset": {"quality": "high", "resolution": "4k"}}
    )
    assert webm.status_code == 201 and webm.json()["output_format"] == "webm", webm.text
    variant = api.http.get(f"/v1/jobs/{webm.json()['id']}").json()["outputs"][0]["video"][0]
    assert variant["codec"] == "vp9" and variant["quality"] == "premium" and variant["resolution"] == "2160p"
    api.http.post(f"/v1/jobs/{webm.json()['id']}/cancel")
    # The lesson's last example: 1080p, answered { id, status: 'pending' }.
    body = {"inputs": urls[:1], "outputFormat": "mp4", "preset": {"quality": "medium", "resolution": "1080p"}}
    hd = create(api, body)
    assert hd.status_code == 201 and hd.json()["status"] == "pending", hd.text
    variant = api.http.get(f"/v1/jobs/{hd.json()['id']}").json()["outputs"][0]["video"][0]
    assert (
        variant["codec"] == "h264" and variant["quality"] == "standard" and variant["resolution"] == "1080p"
    )
    api.http.post(f"/v1/jobs/{hd.json()['id']}/cancel")


def test_failed_job_and_errors(api: Api, other_api: Api, inputs: Server) -> None:
    resp = create(api, {"inputs": [{"url": f"{inputs.url}/broken.mp4"}], "outputFormat": "mp4"})
    assert resp.status_code == 201, resp.text
    failed, _ = wait(api, resp.json()["id"])
    # "If the status comes back failed, the reason is in error_message."
    assert failed["status"] == "failed" and failed["error_message"] and failed["output_url"] is None
    refused = api.http.get(f"/v1/transcodes/{failed['id']}/download")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not-ready"
    assert other_api.http.get(f"/v1/transcodes/{failed['id']}").status_code == 404  # organizations
    assert httpx.get(f"{api.base_url}/v1/transcodes/{failed['id']}").status_code == 401

    good = {"inputs": [{"url": f"{inputs.url}/input.mp4"}], "outputFormat": "mp4"}
    for bad in (
        {**good, "inputs": []},  # 1 to 10 items
        {**good, "inputs": [{"url": f"{inputs.url}/input.mp4"}] * 11},
        {"inputs": good["inputs"]},  # outputFormat is required
        {**good, "preset": {"quality": "ultra"}},  # high, medium or low
        {**good, "preset": {"resolution": "8k"}},  # 480p, 720p, 1080p or 4k
        {**good, "inputs": [{"url": "http://169.254.169.254/latest/meta-data"}]},  # SSRF, as natively
        {**good, "inputs": [{"url": "ftp://example.com/a.mp4"}]},
    ):
        answer = create(api, bad)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] in ("invalid-input", "forbidden-url"), answer.text
    assert api.http.get("/v1/transcodes/9193c4b4-a12d-4e35-8df0-46847a552b7b").status_code == 404


def test_client_mjs_runs_unchanged(api: Api, inputs: Server, tmp_path: Path) -> None:
    """The lesson's three helpers, byte for byte, create → poll → download against Recast, and throw as
    the lesson says on a bad request, a failed job and a refused download."""
    node = shutil.which("node")
    assert node, "run scripts/bootstrap.sh --tests (node)"
    doc_client = (JS / "client.mjs").read_text()
    assert "const API_URL = 'https://api.ffmpeg-micro.com'" in doc_client
    out = tmp_path / "out-720p.mp4"
    proc = subprocess.run(
        [node, "--import", "./base-url.mjs", "flow.mjs"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=180,
        env={
            **os.environ,
            "RECAST_URL": api.base_url,
            "FFMPEG_MICRO_API_KEY": api.http.headers["Authorization"].removeprefix("Bearer "),
            "INPUT_URL": f"{inputs.url}/input.mp4",
            "BROKEN_URL": f"{inputs.url}/broken.mp4",
            "OUT_FILE": str(out),
        },
    )
    assert proc.returncode == 0, proc.stderr
    steps = {s["step"]: s for s in map(json.loads, proc.stdout.splitlines())}
    assert list(steps) == ["created", "completed", "saved", "bad-request", "failed", "download-refused"], (
        steps
    )
    assert steps["created"]["job"]["status"] == "pending"
    assert steps["completed"]["job"]["status"] == "completed"
    assert steps["saved"]["status"] == 200 and steps["saved"]["bytes"] == out.stat().st_size
    video = stream(ffprobe(out), "video")
    assert video and video["codec_name"] == "h264" and video["height"] == 720
    assert steps["bad-request"]["message"].startswith("transcode 400: ")
    assert steps["failed"]["message"].startswith(f"Job {steps['failed']['message'].split()[1]} failed: ")
    assert "unknown" not in steps["failed"]["message"]  # the reason came in error_message
    assert steps["download-refused"]["message"].startswith("download 409: ")


def test_on_s3_storage(temporal: Stack, inputs: Server, tmp_path: Path) -> None:
    """On object storage `output_url` is the output's `s3://bucket/key` (FFmpeg Micro's is a `gs://`
    path) and reads back as another transcode's input; the download URL is the store's pre-signed GET,
    signed for 10 minutes whatever RECAST_URL_TTL says."""
    with moto_s3(tmp_path, ("fm-media",)) as endpoint:
        env = {
            "RECAST_STORAGE_URL": "s3://fm-media/recast",
            "RECAST_S3_ENDPOINT": endpoint,
            "RECAST_S3_REGION": "us-east-1",
            "RECAST_S3_ACCESS_KEY_ID": "fm-access",
            "RECAST_S3_SECRET_ACCESS_KEY": "fm-secret",
            "RECAST_URL_TTL": "3600",
        }
        with own_api(temporal, tmp_path / "stack", "recast-ffmpeg-micro-s3", **env) as api:
            body = {"inputs": [{"url": f"{inputs.url}/input.mp4"}], "outputFormat": "mp4"}
            first, _ = wait(api, create(api, {**body, "preset": {"resolution": "480p"}}).json()["id"])
            assert first["status"] == "completed", first
            assert first["output_url"].startswith("s3://fm-media/recast/acme/") and first[
                "output_url"
            ].endswith(".mp4")
            url = api.http.get(f"/v1/transcodes/{first['id']}/download").json()["url"]
            assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["600"]
            got = httpx.get(url, timeout=30)
            assert got.status_code == 200
            (tmp_path / "first.mp4").write_bytes(got.content)
            video = stream(ffprobe(tmp_path / "first.mp4"), "video")
            assert video and video["height"] == 480

            chained = create(api, {"inputs": [{"url": first["output_url"]}], "outputFormat": "mov"})
            assert chained.status_code == 201, chained.text
            second, _ = wait(api, chained.json()["id"])
            assert second["status"] == "completed" and second["output_format"] == "mov", second
            assert second["duration_seconds"] == pytest.approx(1, abs=0.1)

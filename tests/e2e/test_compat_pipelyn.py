"""Pipelyn's async jobs API on Recast (api/compat/pipelyn.py): every request of its document
(shared/reference/pipelyn-async-jobs.txt) replayed over HTTP, the answers checked field by field
against its examples — submit (202, `jobId`/`status`/`createdAt`), poll to `done` with the camelCase
`result`, the download with its three headers, the error table — plus the sync `/optimize`, a failed
job's `error {message, code}`, and the native rules it shares (keys, organizations)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, ffprobe, make_clip, make_tone, moto_s3, own_api, stream

# The document's "job done" example, field by field (values vary with the input; names and types do not).
DONE_FIELDS = {"jobId", "status", "preset", "filename", "inputBytes", "result", "downloadUrl", "createdAt"}
RESULT_FIELDS = {
    "kind",
    "strategy",
    "contentType",
    "filename",
    "outputBytes",
    "savedBytes",
    "savedPercent",
    "inputDurationSec",
    "outputDurationSec",
    "inputWidth",
    "outputWidth",
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pipelyn")
    broken = d / "broken.mp4"
    broken.write_bytes(b"not a video at all\n" * 200)
    return {
        "clip": make_clip(d / "clip.mp4", seconds=1, size="1280x720"),
        "tone": make_tone(d / "tone.m4a"),
        "broken": broken,
    }


def submit(api: Api, path: Path, route: str = "/api/media/jobs", **fields: str) -> httpx.Response:
    with path.open("rb") as fh:
        return api.http.post(route, files={"media": (path.name, fh, "video/mp4")}, data=fields, timeout=90)


def poll(api: Api, job_id: str, timeout: float = 90) -> dict[str, Any]:
    """GET /api/media/jobs/:id until a terminal state, as the document says to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = api.http.get(f"/api/media/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        assert job["status"] in ("pending", "processing", "done", "failed"), job
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_submit_poll_download_as_documented(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    clip = media["clip"]
    size = clip.stat().st_size
    before = int(time.time() * 1000)
    resp = submit(api, clip, preset="low-bandwidth")
    # 202 Accepted {"jobId", "status": "pending", "createdAt": <epoch ms>}
    assert resp.status_code == 202, resp.text
    created = resp.json()
    assert created["status"] == "pending" and isinstance(created["jobId"], str) and created["jobId"]
    assert isinstance(created["createdAt"], int) and before - 5000 <= created["createdAt"] <= before + 60_000
    assert "result" not in created and "downloadUrl" not in created and "error" not in created

    job = poll(api, created["jobId"])
    assert set(job) == DONE_FIELDS, job
    assert (
        job["jobId"] == created["jobId"]
        and job["status"] == "done"
        and job["createdAt"] == created["createdAt"]
    )
    assert job["preset"] == "low-bandwidth" and job["filename"] == "clip.mp4" and job["inputBytes"] == size
    result = job["result"]
    assert set(result) == RESULT_FIELDS, result
    # The document's example of low-bandwidth: a VP9 WebM 720 px wide, named after the input.
    assert result["kind"] == "video" and result["strategy"] == "video-webm-vp9"
    assert result["contentType"] == "video/webm" and result["filename"] == "clip.webm"
    assert result["inputWidth"] == 1280 and result["outputWidth"] == 720
    assert result["savedBytes"] == size - result["outputBytes"]
    assert result["savedPercent"] == round(100 * result["savedBytes"] / size, 2)
    assert result["inputDurationSec"] == pytest.approx(1, abs=0.1)
    assert result["outputDurationSec"] == pytest.approx(1, abs=0.1)
    # Local storage: downloadUrl is this API's GET /api/media/jobs/:id/download.
    assert job["downloadUrl"] == f"{api.base_url}/api/media/jobs/{job['jobId']}/download"

    got = api.http.get(job["downloadUrl"])
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "video/webm"
    assert got.headers["content-disposition"] == 'attachment; filename="clip.webm"'
    assert got.headers["cache-control"] == "no-store"
    assert len(got.content) == result["outputBytes"]
    (tmp_path / "clip.webm").write_bytes(got.content)
    video = stream(ffprobe(tmp_path / "clip.webm"), "video")
    assert video and video["codec_name"] == "vp9" and video["width"] == 720


def test_default_preset_is_web(api: Api, media: dict[str, Path]) -> None:
    resp = submit(api, media["clip"])  # "preset=low-bandwidth   # optional, default: web"
    assert resp.status_code == 202, resp.text
    job = poll(api, resp.json()["jobId"])
    assert job["status"] == "done" and job["preset"] == "web", job
    assert job["result"]["strategy"] == "video-mp4-h264" and job["result"]["filename"] == "clip.mp4"
    assert job["result"]["contentType"] == "video/mp4" and job["result"]["outputWidth"] == 1280


def test_audio_input(api: Api, media: dict[str, Path]) -> None:
    resp = submit(api, media["tone"], preset="low-bandwidth")
    assert resp.status_code == 202, resp.text
    job = poll(api, resp.json()["jobId"])
    assert job["status"] == "done", job
    result = job["result"]
    assert result["kind"] == "audio" and result["filename"] == "tone.opus"
    assert result["inputWidth"] is None and result["outputWidth"] is None


def test_sync_optimize(api: Api, media: dict[str, Path]) -> None:
    resp = submit(api, media["clip"], route="/api/media/optimize", preset="low-bandwidth")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "done" and set(body["result"]) == RESULT_FIELDS
    assert body["result"]["strategy"] == "video-webm-vp9"
    assert api.http.get(body["downloadUrl"]).status_code == 200


def test_failed_job_and_not_ready(api: Api, media: dict[str, Path]) -> None:
    resp = submit(api, media["broken"])
    assert resp.status_code == 202, resp.text
    job = poll(api, resp.json()["jobId"])
    # "error: Present when status === "failed" — includes message and code"
    assert job["status"] == "failed" and "result" not in job and "downloadUrl" not in job
    assert set(job["error"]) == {"message", "code"} and job["error"]["code"] == "invalid-media"
    # 409 not-ready: "Download requested before job is done"
    got = api.http.get(f"/api/media/jobs/{job['jobId']}/download")
    assert got.status_code == 409 and got.json()["error"]["code"] == "not-ready", got.text
    failed = submit(api, media["broken"], route="/api/media/optimize")
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "invalid-media", failed.text


def test_error_table(api: Api, media: dict[str, Path]) -> None:
    # 400 invalid-input: "Missing or non-file media field"
    missing = api.http.post("/api/media/jobs", data={"preset": "web"}, files={"other": ("x", b"x")})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid-input", missing.text
    text = api.http.post("/api/media/jobs", files={"media": (None, "not a file")})
    assert text.status_code == 400 and text.json()["error"]["code"] == "invalid-input", text.text
    unknown = submit(api, media["clip"], preset="no-such-preset")
    assert unknown.status_code == 400 and "preset" in unknown.json()["error"]["message"]
    # 404 not-found: "Job ID does not exist"
    for path in ("/api/media/jobs/5c3a1b2e-0000", "/api/media/jobs/5c3a1b2e-0000/download"):
        gone = api.http.get(path)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not-found", gone.text
        assert set(gone.json()["error"]) == {"message", "code"}


def test_keys_and_organizations(api: Api, other_api: Api, media: dict[str, Path]) -> None:
    assert httpx.get(f"{api.base_url}/api/media/jobs/x").status_code == 401
    resp = submit(api, media["broken"])
    job_id = resp.json()["jobId"]
    # Another organization's key cannot see the job, as in the native API.
    assert other_api.http.get(f"/api/media/jobs/{job_id}").status_code == 404
    # The job is a native job: the same one at /v1/jobs/{id}.
    assert api.http.get(f"/v1/jobs/{job_id}").json()["metadata"] == {"pipelyn_preset": "web"}


def test_presigned_download_url_on_s3(temporal: Stack, media: dict[str, Path], tmp_path: Path) -> None:
    """With S3 storage downloadUrl is the store's pre-signed GET, with the document's 1 h TTL and the
    output's Pipelyn file name."""
    with moto_s3(tmp_path, ("pl-media",)) as endpoint:
        env = {
            "RECAST_STORAGE_URL": "s3://pl-media/recast",
            "RECAST_S3_ENDPOINT": endpoint,
            "RECAST_S3_REGION": "us-east-1",
            "RECAST_S3_ACCESS_KEY_ID": "pl-access",
            "RECAST_S3_SECRET_ACCESS_KEY": "pl-secret",
        }
        with own_api(temporal, tmp_path / "stack", "recast-pipelyn-s3", **env) as api:
            resp = submit(api, media["clip"], preset="web")
            assert resp.status_code == 202, resp.text
            job = poll(api, resp.json()["jobId"])
            assert job["status"] == "done", job
            url = job["downloadUrl"]
            query = parse_qs(urlsplit(url).query)
            assert url.startswith(endpoint) and query["X-Amz-Expires"] == ["3600"]
            assert query["response-content-disposition"] == ['attachment; filename="clip.mp4"']
            got = httpx.get(url, timeout=30)  # no key: the URL is the credential
            assert got.status_code == 200 and len(got.content) == job["result"]["outputBytes"]

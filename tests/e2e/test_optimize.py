"""POST /v1/optimize: one output through the ordinary workflow, answered when it is done.

200 with the report and a working download link; 202 with the Job past the wait limit (then the job
finishes as any other); 400 for a bad request; 422 with the job's error_code when the job fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Api, ffprobe, make_clip, make_tone, stream


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("optimize")
    notmedia = d / "notes.mp4"
    notmedia.write_bytes(b"not a video at all\n" * 200)
    return {
        "video": make_clip(d / "clip.mp4", seconds=1, size="640x360"),
        "tone": make_tone(d / "tone.m4a"),
        "notmedia": notmedia,
    }


def optimize(
    api: Api, clip: Path, outputs: list[dict[str, Any]] | None = None, **params: Any
) -> httpx.Response:
    data = {"outputs": json.dumps(outputs)} if outputs is not None else {}
    with clip.open("rb") as fh:
        return api.http.post(
            "/v1/optimize",
            params=params,
            files={"media": (clip.name, fh, "video/mp4")},
            data=data,
            timeout=90,
        )


def test_optimize_returns_the_result(api: Api, tiny: dict[str, Path], tmp_path: Path) -> None:
    resp = optimize(api, tiny["video"], [{"type": "webm", "video": {"codec": "vp9", "width": 320}}])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    out, size = body["output"], tiny["video"].stat().st_size
    assert body["input"]["file_size_bytes"] == size and body["input"]["width"] == 640
    assert out["status"] == "completed" and out["strategy"] == "video-webm-vp9"
    assert out["content_type"] == "video/webm" and out["filename"] == "clip-320w-vp9.webm"
    assert out["saved_bytes"] == size - out["file_size_bytes"]
    assert out["saved_percent"] == round(100 * out["saved_bytes"] / size, 1)

    got = httpx.get(body["download"]["url"], timeout=30)
    assert got.status_code == 200 and len(got.content) == out["file_size_bytes"]
    (tmp_path / "o.webm").write_bytes(got.content)
    data = ffprobe(tmp_path / "o.webm")
    video = stream(data, "video")
    assert video and (video["codec_name"], video["width"], video["height"]) == ("vp9", 320, 180)
    assert (out["width"], out["height"]) == (320, 180)
    assert abs(float(data["format"]["duration"]) * 1000 - out["duration_ms"]) <= 1
    assert abs(out["duration_ms"] - body["input"]["duration_ms"]) <= 100
    # it is an ordinary job: readable like any other
    assert api.job(body["job_id"])["outputs"][0] == out


def test_optimize_defaults_to_the_web_preset(api: Api, tiny: dict[str, Path], tmp_path: Path) -> None:
    resp = optimize(api, tiny["video"])
    assert resp.status_code == 200, resp.text
    out = resp.json()["output"]
    assert (out["preset"], out["strategy"], out["content_type"]) == ("web", "video-mp4-h264", "video/mp4")


def test_optimize_json_with_input_url(api: Api, http_server: str) -> None:
    body = {"input_url": f"{http_server}/small.mp4", "outputs": [{"preset": "audio-podcast"}]}
    resp = api.http.post("/v1/optimize", json=body, timeout=90)
    assert resp.status_code == 200, resp.text
    out = resp.json()["output"]
    assert out["strategy"] == "audio-mp3" and out["audio"]["channels"] == 1
    assert httpx.get(resp.json()["download"]["url"], timeout=30).status_code == 200


def test_optimize_past_the_limit_is_202_with_the_job(api: Api, tiny: dict[str, Path]) -> None:
    resp = optimize(api, tiny["video"], [{"preset": "web"}], wait=0)
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["id"].startswith("job_") and resp.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] not in ("completed", "failed")
    done = api.wait(job["id"])
    assert done["status"] == "completed" and done["outputs"][0]["saved_bytes"] is not None


def test_optimize_output_larger_than_input(api: Api, tiny: dict[str, Path]) -> None:
    resp = optimize(api, tiny["tone"], [{"type": "wav"}])
    assert resp.status_code == 200, resp.text
    out = resp.json()["output"]
    assert out["saved_bytes"] < 0 and out["saved_percent"] < 0  # 1 s of WAV outweighs 1 s of AAC
    assert out["saved_bytes"] == tiny["tone"].stat().st_size - out["file_size_bytes"]


@pytest.mark.parametrize(
    ("outputs", "fields", "named"),
    [
        ([{"preset": "web"}, {"preset": "audio-podcast"}], {}, "exactly one output"),
        ([{"preset": "nope"}], {}, "known presets: web"),
        ([{"type": "webm", "video": {"codec": "h264"}}], {}, "allowed: vp9, av1"),
        ([{"preset": "web"}], {"delayed_start": "true"}, "delayed_start"),
        ([{"preset": "web"}], {"thumbnails": '[{"count": 2}]'}, "thumbnails"),
    ],
)
def test_optimize_bad_input_is_400(
    api: Api, tiny: dict[str, Path], outputs: list[dict[str, Any]], fields: dict[str, str], named: str
) -> None:
    with tiny["video"].open("rb") as fh:
        resp = api.http.post(
            "/v1/optimize", files={"media": ("clip.mp4", fh)}, data={"outputs": json.dumps(outputs), **fields}
        )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "invalid-input" and named in resp.json()["error"]["message"]


def test_optimize_failed_job_is_422_with_its_error(api: Api, tiny: dict[str, Path]) -> None:
    resp = optimize(api, tiny["notmedia"], [{"preset": "web"}])
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid-media" and "failed" in error["message"]
    job_id = resp.headers["location"].rsplit("/", 1)[-1]
    assert api.job(job_id)["error_code"] == "invalid-media" and job_id in error["message"]
    # an audio-only input cannot make a video output
    resp = optimize(api, tiny["tone"], [{"preset": "social-vertical"}])
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "no-video-stream", resp.text

"""End to end through HTTP: real API, real Temporal, real ffmpeg; outputs checked with ffprobe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recast.devstack.stack import Stack
from tests.helpers import Api, activity_attempts, ffprobe, stream

MP4_480 = {"type": "mp4", "video": [{"codec": "h264", "resolution": "480p"}]}
WEBM_480 = {"type": "webm", "video": [{"codec": "vp9", "resolution": "480p"}]}


def check_rendition(
    path: Path, codec: str, width: int, height: int, seconds: float, audio: str | None
) -> None:
    data = ffprobe(path)
    video = stream(data, "video")
    assert video is not None, "no video stream"
    assert video["codec_name"] == codec
    assert (video["width"], video["height"]) == (width, height)
    assert abs(float(data["format"]["duration"]) - seconds) <= 0.1
    got_audio = stream(data, "audio")
    assert (got_audio["codec_name"] if got_audio else None) == audio


def test_upload_two_renditions_completes_and_downloads(
    api: Api, clips: dict[str, Path], tmp_path: Path
) -> None:
    job = api.submit(clips["small"], [MP4_480, WEBM_480])
    assert job["status"] == "pending" and job["id"].startswith("job_")
    assert job["input"]["filename"] == "small.mp4"

    done = api.wait(job["id"])
    assert done["status"] == "completed", done
    assert done["progress"] == 100 and done["stage"] == "done"
    meta = done["input_metadata"]
    assert (meta["width"], meta["height"], meta["codec"], meta["audio_codec"]) == (640, 360, "h264", "aac")
    assert abs(meta["duration_ms"] - 2000) <= 50
    for field in ("created_at", "probed_at", "started_at", "completed_at"):
        assert done[field].endswith("Z"), field
    assert done["execution"]["encode_duration_ms"] > 0

    mp4, webm = done["outputs"]
    assert (mp4["status"], webm["status"]) == ("completed", "completed")
    resp = api.download(done["id"], mp4["id"], tmp_path / "out.mp4")
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.headers["cache-control"] == "private, no-cache"  # kept by the browser, revalidated (ETag)
    assert resp.headers["content-disposition"] == 'attachment; filename="small-480p-h264.mp4"'
    assert int(resp.headers["content-length"]) == mp4["file_size_bytes"]
    # 360p input asked for 480p: never upscaled.
    check_rendition(tmp_path / "out.mp4", "h264", 640, 360, 2.0, "aac")
    api.download(done["id"], webm["id"], tmp_path / "out.webm")
    check_rendition(tmp_path / "out.webm", "vp9", 640, 360, 2.0, "opus")
    assert mp4["audio"]["codec"] == "aac" and webm["audio"]["codec"] == "opus"


def test_downscale_keeps_aspect_and_even_size(api: Api, clips: dict[str, Path], tmp_path: Path) -> None:
    job = api.submit(
        clips["long720"],
        [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}],
    )
    done = api.wait(job["id"])
    assert done["status"] == "completed", done
    out = done["outputs"][0]
    assert (out["width"], out["height"]) == (854, 480)
    api.download(done["id"], out["id"], tmp_path / "o.mp4")
    check_rendition(tmp_path / "o.mp4", "h264", 854, 480, 6.0, "aac")


def test_input_without_audio(api: Api, clips: dict[str, Path], tmp_path: Path) -> None:
    done = api.wait(api.submit(clips["silent"], [WEBM_480])["id"])
    assert done["status"] == "completed", done
    assert done["input_metadata"]["audio_codec"] is None
    api.download(done["id"], done["outputs"][0]["id"], tmp_path / "o.webm")
    check_rendition(tmp_path / "o.webm", "vp9", 640, 360, 2.0, None)


def test_input_url_from_http_server(
    api: Api, http_server: str, clips: dict[str, Path], tmp_path: Path
) -> None:
    resp = api.http.post(
        "/v1/jobs",
        json={
            "input_url": f"{http_server}/small.mp4",
            "outputs": [MP4_480, WEBM_480],
            "metadata": {"customer": "c-42"},
        },
    )
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["input"]["url"].endswith("/small.mp4")
    assert job["metadata"] == {"customer": "c-42"}
    done = api.wait(job["id"])
    assert done["status"] == "completed", done
    assert done["input"]["size"] == clips["small"].stat().st_size
    api.download(done["id"], done["outputs"][0]["id"], tmp_path / "o.mp4")
    check_rendition(tmp_path / "o.mp4", "h264", 640, 360, 2.0, "aac")
    api.download(done["id"], done["outputs"][1]["id"], tmp_path / "o.webm")
    check_rendition(tmp_path / "o.webm", "vp9", 640, 360, 2.0, "opus")


def test_input_url_missing_fails_cleanly(api: Api, http_server: str) -> None:
    resp = api.http.post("/v1/jobs", json={"input_url": f"{http_server}/nope.mp4", "outputs": [MP4_480]})
    done = api.wait(resp.json()["id"])
    assert done["status"] == "failed"
    assert done["error_code"] == "input-unreachable"
    assert "404" in done["error_message"]


def test_not_media_fails_once_with_clear_error(api: Api, clips: dict[str, Path], temporal: Stack) -> None:
    done = api.wait(api.submit(clips["notmedia"], [MP4_480])["id"])
    assert done["status"] == "failed"
    assert done["error_code"] == "invalid-media"
    assert "not a media file" in done["error_message"]
    assert all(o["status"] == "failed" for o in done["outputs"])
    # A permanent error is not retried: exactly one probe attempt, and no encode was tried.
    assert activity_attempts(temporal, done["id"], "probe_input") == [1]
    assert activity_attempts(temporal, done["id"], "encode_output") == []


def test_job_state_is_visible_while_processing(api: Api, clips: dict[str, Path]) -> None:
    job = api.submit(clips["long720"], [{"type": "mp4", "video": {"codec": "h264", "quality": "premium"}}])
    seen: list[dict[str, Any]] = []
    while (j := api.job(job["id"]))["status"] not in ("completed", "failed", "partial"):
        seen.append(j)
    seen.append(j)
    assert j["status"] == "completed", j
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress), "progress went backwards"
    assert any(s["status"] == "processing" and 15 < s["progress"] < 95 for s in seen), progress
    assert any(0 < s["outputs"][0]["progress"] < 100 for s in seen), "no live output progress was reported"

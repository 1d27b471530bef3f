"""Presets (`{"preset": name}` in outputs, GET /v1/presets), the `fit` option, and the report fields.

Each preset runs end to end on a 1 s 1280x720 clip and its output is probed for what the preset's
description promises; `fit` is checked on the frames themselves (cropdetect finds the letterbox bars).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.core import presets
from recast.core.specs import OutputSpec
from tests.helpers import Api, ffprobe, make_clip, picture_box, stream


@pytest.fixture(scope="module")
def hd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("presets") / "hd.mp4", seconds=1, size="1280x720")


def _download(api: Api, job: dict[str, Any], index: int, dest: Path) -> dict[str, Any]:
    resp = api.download(job["id"], job["outputs"][index]["id"], dest)
    assert len(resp.content) == job["outputs"][index]["file_size_bytes"]
    return ffprobe(dest)


# ---------------------------------------------------------------- the catalog ------------------------------


def test_unknown_preset_names_the_known_ones(api: Api, hd: Path) -> None:
    resp = api.upload(hd, [{"preset": "tiny-gif"}])
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    assert message.startswith("outputs[0]") and "tiny-gif" in message
    assert all(name in message for name in presets.CATALOG)


def test_presets_route(api: Api) -> None:
    resp = api.http.get("/v1/presets")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [p["name"] for p in body["data"]] == list(presets.CATALOG) and body["default"] == "web"
    for entry in body["data"]:
        assert entry["description"]
        assert OutputSpec.model_validate(entry["output"]) == OutputSpec.model_validate(
            {"preset": entry["name"]}
        )
    web = next(p for p in body["data"] if p["name"] == "web")["output"]
    assert web["type"] == "mp4" and web["video"][0]["codec"] == "h264"
    assert httpx.get(f"{api.base_url}/v1/presets").status_code == 401


FOLDER_PRESETS = ("hls-ladder", "thumbnail-strip")  # tested on their own, on a 1080p input


def test_every_preset_runs(api: Api, hd: Path, tmp_path: Path) -> None:
    names = [name for name in presets.CATALOG if name not in FOLDER_PRESETS]
    outputs = [{"preset": name} for name in names] + [{"preset": "web", "audio": {"enabled": False}}]
    done = api.wait(api.submit(hd, outputs)["id"])
    assert done["status"] == "completed", done
    by_preset = {o["preset"]: i for i, o in enumerate(done["outputs"][:-1])}
    assert set(by_preset) == set(names)

    web = _download(api, done, by_preset["web"], tmp_path / "web.mp4")
    video, audio = stream(web, "video"), stream(web, "audio")
    assert video and audio and (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
    assert (audio["codec_name"], audio["channels"]) == ("aac", 2) and "mp4" in web["format"]["format_name"]

    low = _download(api, done, by_preset["low-bandwidth"], tmp_path / "low.mp4")
    video, audio = stream(low, "video"), stream(low, "audio")
    assert video and audio and (video["width"], video["height"]) == (854, 480)
    assert video["profile"] == "Main" and video["avg_frame_rate"] == "24/1"
    assert (audio["codec_name"], audio["channels"]) == ("aac", 1) and int(audio["bit_rate"]) <= 72_000

    pod = _download(api, done, by_preset["audio-podcast"], tmp_path / "pod.mp3")
    audio = stream(pod, "audio")
    assert stream(pod, "video") is None and audio
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("mp3", 1, "44100")
    assert int(audio["bit_rate"]) == 64_000

    social = _download(api, done, by_preset["social-vertical"], tmp_path / "social.mp4")
    video = stream(social, "video")
    # a 1280x720 input fills a 9:16 frame 720 lines tall without upscaling: 404x720, cropped (no bars)
    assert video and (video["width"], video["height"]) == (404, 720) and video["codec_name"] == "h264"
    assert picture_box(tmp_path / "social.mp4") == (404, 720)

    silent = _download(api, done, len(outputs) - 1, tmp_path / "silent.mp4")
    assert stream(silent, "audio") is None and stream(silent, "video")

    strategies = {o["preset"]: o["strategy"] for o in done["outputs"]}
    assert strategies == {
        "web": "video-mp4-h264",
        "low-bandwidth": "video-mp4-h264",
        "audio-podcast": "audio-mp3",
        "social-vertical": "video-mp4-h264",
    }


def test_report_fields_against_the_input(api: Api, hd: Path, tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "webm", "video": {"codec": "vp9", "width": 320}},
        {"type": "wav"},
    ]
    done = api.wait(api.submit(hd, outputs)["id"])
    assert done["status"] == "completed", done
    size = hd.stat().st_size
    assert done["input_metadata"]["file_size_bytes"] == size and done["input"]["size"] == size
    for i, (out, ext) in enumerate(zip(done["outputs"], ("webm", "wav"), strict=True)):
        data = _download(api, done, i, tmp_path / f"o.{ext}")  # also: file_size_bytes == bytes downloaded
        assert out["saved_bytes"] == size - out["file_size_bytes"]
        assert (out["input_bytes"], out["output_bytes"]) == (size, out["file_size_bytes"])
        assert out["input_duration_ms"] == done["input_metadata"]["duration_ms"]
        assert out["input_width"] == done["input_metadata"]["width"]
        assert out["saved_percent"] == round(100 * (size - out["file_size_bytes"]) / size, 1)
        assert out["content_type"] == {"webm": "video/webm", "wav": "audio/wav"}[ext]
        assert out["filename"].endswith(f".{ext}") and out["preset"] is None
        assert abs(out["duration_ms"] - float(data["format"]["duration"]) * 1000) <= 1
    webm, wav = done["outputs"]
    assert webm["strategy"] == "video-webm-vp9" and wav["strategy"] == "audio-wav"
    assert (webm["width"], webm["height"]) == (320, 180) and done["input_metadata"]["width"] == 1280
    assert webm["saved_bytes"] > 0  # a 320 px VP9 of a 1280 px input is smaller


# ---------------------------------------------------------------- fit ---------------------------------------


def test_folder_presets_run(api: Api, tmp_path: Path) -> None:
    """hls-ladder: a master playlist with the 1080p, 720p and 480p rungs; thumbnail-strip: 20
    thumbnails 160 px wide and a 10-column sprite indexed by WebVTT."""
    full_hd = make_clip(tmp_path / "fullhd.mp4", seconds=2, size="1920x1080")
    done = api.wait(api.submit(full_hd, [{"preset": name} for name in FOLDER_PRESETS])["id"])
    assert done["status"] == "completed", done
    hls, strip = done["outputs"]
    assert (hls["strategy"], strip["strategy"]) == ("video-hls-h264", "image-thumbnails")

    link = api.http.get(f"/v1/jobs/{done['id']}/outputs/{hls['id']}/download").json()
    master = httpx.get(link["url"], timeout=30)
    assert master.status_code == 200 and link["url"].endswith("/master.m3u8")
    rungs = re.findall(r"#EXT-X-STREAM-INF:.*RESOLUTION=(\d+)x(\d+)", master.text)
    assert sorted(int(h) for _, h in rungs) == [480, 720, 1080]
    assert sum(f["size"] for f in link["files"]) == hls["file_size_bytes"]

    link = api.http.get(f"/v1/jobs/{done['id']}/outputs/{strip['id']}/download").json()
    names = {f["name"] for f in link["files"]}
    assert {f"thumb_{i:04d}.jpg" for i in range(1, 21)} <= names and {"sprite.jpg", "thumbnails.vtt"} <= names
    vtt = httpx.get(link["url"], timeout=30).text
    assert link["url"].endswith("/thumbnails.vtt") and vtt.count("sprite.jpg#xywh=") == 20
    sprite = tmp_path / "sprite.jpg"
    sprite.write_bytes(httpx.get(next(f["url"] for f in link["files"] if f["name"] == "sprite.jpg")).content)
    picture = stream(ffprobe(sprite), "video")
    assert picture and (picture["width"], picture["height"]) == (10 * 160, 2 * 90)

"""Presets (`{"preset": name}` in outputs, GET /v1/presets), the `fit` option, and the report fields.

Each preset runs end to end on a 1 s 1280x720 clip and its output is probed for what the preset's
description promises; `fit` is checked on the frames themselves (cropdetect finds the letterbox bars).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from recast.core import presets, specs, timeline
from recast.core.specs import OutputSpec, VideoVariant
from recast.media import probe, renditions
from tests.helpers import Api, ffprobe, make_clip, picture_box, stream


@pytest.fixture(scope="module")
def hd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("presets") / "hd.mp4", seconds=1, size="1280x720")


def _download(api: Api, job: dict[str, Any], index: int, dest: Path) -> dict[str, Any]:
    resp = api.download(job["id"], job["outputs"][index]["id"], dest)
    assert len(resp.content) == job["outputs"][index]["file_size_bytes"]
    return ffprobe(dest)


# ---------------------------------------------------------------- the catalog ------------------------------


@pytest.mark.parametrize("name", list(presets.CATALOG))
def test_every_preset_is_an_ordinary_output(name: str) -> None:
    spec = OutputSpec.model_validate({"preset": name})
    assert spec.preset == name
    assert spec.model_dump(exclude={"preset"}) == OutputSpec.model_validate(presets.expand(name)).model_dump(
        exclude={"preset"}
    )
    # what the workflow receives (a dump) validates back to the same spec
    assert OutputSpec.model_validate(spec.model_dump(mode="json")) == spec


def test_fields_next_to_a_preset_replace_its_own() -> None:
    spec = OutputSpec.model_validate({"preset": "web", "audio": {"enabled": False}})
    assert spec.type.value == "mp4" and spec.video[0].resolution is not None and not spec.audio.enabled
    with pytest.raises(ValidationError, match="needs a video variant"):
        OutputSpec.model_validate({"preset": "audio-podcast", "type": "mp4"})


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


@pytest.mark.parametrize(
    ("fit", "size", "want"),
    [
        ("cover", (1920, 1080), (608, 1080)),  # the tallest 9:16 crop of a 1080-line input
        ("cover", (3840, 2160), (1080, 1920)),  # large enough: the box itself
        ("pad", (1920, 1080), (1080, 1920)),  # the picture fits inside the box; bars above and below
        ("pad", (640, 360), (640, 1138)),  # picture kept at 640x360, never upscaled; the bars make 9:16
        ("contain", (1920, 1080), (1080, 608)),
    ],
)
def test_fit_sizing(fit: str, size: tuple[int, int], want: tuple[int, int]) -> None:
    variant = VideoVariant.model_validate({"codec": "h264", "width": 1080, "height": 1920, "fit": fit})
    assert specs.target_size(variant, *size) == want


@pytest.mark.parametrize("variant", [{"width": 640, "fit": "cover"}, {"resolution": "720p", "fit": "pad"}])
def test_fit_needs_a_box(variant: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="needs both width and height"):
        VideoVariant.model_validate({"codec": "h264", **variant})


@pytest.mark.parametrize(("fit", "picture"), [("cover", (360, 640)), ("pad", (360, 202))])
def test_fit_frames(fit: str, picture: tuple[int, int], tmp_path: Path) -> None:
    """A 1280x720 landscape input in a 360x640 portrait box: cover crops it (the picture fills the
    frame), pad letterboxes it (a 360x202 picture between black bars)."""
    src = make_clip(tmp_path / "land.mp4", seconds=1, size="1280x720", audio=False)
    spec = OutputSpec.model_validate(
        {"type": "mp4", "video": {"codec": "h264", "width": 360, "height": 640, "fit": fit}}
    )
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(src)), src.stat().st_size)
    dst = tmp_path / f"{fit}.mp4"
    plan = renditions.encode_plan(spec, meta, src, dst)
    subprocess.run(plan.args, check=True, capture_output=True)
    data = asyncio.run(probe.probe_raw(dst))
    renditions.check_output(data, spec, plan, meta)
    video = stream(data, "video")
    assert video and (video["width"], video["height"]) == (360, 640)
    assert video.get("sample_aspect_ratio", "1:1") == "1:1"
    got = picture_box(dst)
    assert abs(got[0] - picture[0]) <= 4 and abs(got[1] - picture[1]) <= 4, got


def test_fit_cover_in_a_join_crops_every_input(tmp_path: Path) -> None:
    """A join fits its inputs into one frame; with `fit: cover` each is cropped to fill it, so no input
    (here a 4:3 one beside a 16:9 one) gets black bars in a portrait output."""
    parts = [
        (make_clip(tmp_path / f"{size}.mp4", seconds=1, size=size, audio=False), size)
        for size in ("320x240", "640x360")
    ]
    metas = [(p, probe.input_metadata(asyncio.run(probe.probe_raw(p)), p.stat().st_size)) for p, _ in parts]
    joined = timeline.joined_metadata([m for _, m in metas])
    spec = OutputSpec.model_validate(
        {"type": "mp4", "video": {"codec": "h264", "width": 360, "height": 640, "fit": "cover"}}
    )
    dst = tmp_path / "joined.mp4"
    plan = renditions.encode_plan(spec, joined, metas[0][0], dst, parts=metas)
    subprocess.run(plan.args, check=True, capture_output=True)
    data = asyncio.run(probe.probe_raw(dst))
    renditions.check_output(data, spec, plan, joined)
    video = stream(data, "video")
    # the joined frame is the larger input's 640x360; its tallest 9:16 crop is 202x360
    assert video and (video["width"], video["height"]) == (202, 360)
    for start in ("0", "1.2"):  # a frame of each input
        got = picture_box(dst, start)
        assert abs(got[0] - 202) <= 4 and abs(got[1] - 360) <= 4, (start, got)


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


def test_fit_in_a_ladder_rung(tmp_path: Path) -> None:
    """A portrait `cover` rung beside an ordinary one in an HLS ladder: cropped to its box, not
    stretched, and the package passes the ladder's own check."""
    from recast.media import streaming

    src = make_clip(tmp_path / "land.mp4", seconds=2, size="1280x720")
    spec = OutputSpec.model_validate(
        {
            "type": "hls",
            "video": [
                {"codec": "h264", "height": 360},
                {"codec": "h264", "width": 360, "height": 640, "fit": "cover"},
            ],
            "segments": {"duration": 1},
        }
    )
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(src)), src.stat().st_size)
    folder = tmp_path / "package"
    folder.mkdir()
    plan = streaming.ladder_plan(spec, meta, src, folder)
    subprocess.run(plan.args, check=True, capture_output=True)
    info = asyncio.run(streaming.check_package(folder, spec, plan, meta, tmp_path))
    assert [(r.width, r.height) for r in info.rungs] == [(640, 360), (360, 640)]
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert "force_original_aspect_ratio=increase" in graph and "crop=360:640" in graph  # not stretched

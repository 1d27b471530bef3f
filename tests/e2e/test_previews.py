"""Animated previews (gif, animated webp) and audio waveforms, end to end on the shared stack.

Every result is downloaded and read back independently of Recast: GIFs with ffprobe (frame count,
size, duration) and Pillow, animated WebPs with Pillow (Debian's ffmpeg 5.1 cannot decode them), the
waveform's PNG with Pillow and its peaks against what ffmpeg's `astats` measures of the same audio.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from recast.core import pricing
from recast.media.previews import read_webp
from tests.helpers import Api, ffprobe, make_clip, make_tone, make_with_ffmpeg, stream, upload_form


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("previews")
    half = d / "half.m4a"  # 1 s of silence, then 1 s of a 440 Hz tone at 1/8 of full scale
    make_with_ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2,volume=0:enable='lt(t,1)'",
        "-c:a", "aac", "-b:a", "192k", str(half),
    )  # fmt: skip
    return {
        "video": make_clip(d / "four.mp4", seconds=4, size="320x180", rate=10),
        "silent": make_clip(d / "silent.mp4", seconds=2, size="320x180", rate=10, audio=False),
        "tone": make_tone(d / "tone.m4a", seconds=2),
        "half": half,
    }


def _download(api: Api, job: dict[str, Any], index: int, dest: Path) -> Path:
    api.download(job["id"], job["outputs"][index]["id"], dest)
    return dest


def _files(api: Api, job: dict[str, Any], index: int, dest: Path) -> dict[str, Path]:
    out = job["outputs"][index]
    link = api.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download").json()
    dest.mkdir(parents=True, exist_ok=True)
    got = {}
    for f in link["files"]:
        resp = httpx.get(f["url"], timeout=30)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(f["content_type"])
        got[f["name"]] = dest / f["name"]
        got[f["name"]].write_bytes(resp.content)
    return got


# ---------------------------------------------------------------- animated previews -----------------------


def test_gif_and_animated_webp(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "gif", "animation": {"start": 1, "duration": 2, "fps": 5, "width": 160, "colors": 64}},
        {"type": "webp", "animation": {"duration": 1.5, "width": 120, "loop": False, "quality": 60}},
        {"type": "gif"},  # the defaults: 3 s from the start, 10 fps, 320 wide (the input's width)
        {"type": "webp", "image": {"width": 100}},  # a still webp stays a still
    ]
    job = api.wait(api.submit(media["video"], outputs)["id"])
    assert job["status"] == "completed", job
    gif, webp, default, still = job["outputs"]
    assert gif["strategy"] == "animation-gif" and webp["strategy"] == "animation-webp"
    assert gif["content_type"] == "image/gif" and gif["filename"].endswith(".gif")

    data = ffprobe(_download(api, job, 0, tmp_path / "a.gif"))
    picture = stream(data, "video")
    assert picture is not None
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("gif", 160, 90)
    with Image.open(tmp_path / "a.gif") as img:
        assert (
            getattr(img, "n_frames", 1) == 10 and img.info.get("loop") == 0
        )  # 2 s at 5 fps, looping forever
        assert len(img.getpalette() or []) // 3 <= 64
    assert float(data["format"]["duration"]) == pytest.approx(2.0, abs=0.15)
    assert gif["duration_ms"] == pytest.approx(2000, abs=150) and (gif["width"], gif["height"]) == (160, 90)

    raw = _download(api, job, 1, tmp_path / "a.webp").read_bytes()
    with Image.open(tmp_path / "a.webp") as img:
        assert (
            getattr(img, "is_animated", False) and getattr(img, "n_frames", 1) == 15 and img.size == (120, 68)
        )
        assert img.info.get("loop") == 1  # played once
    assert read_webp(raw).frames == 15

    with Image.open(_download(api, job, 2, tmp_path / "b.gif")) as img:
        assert getattr(img, "n_frames", 1) == 30 and img.size == (320, 180)

    with Image.open(_download(api, job, 3, tmp_path / "still.webp")) as img:
        assert not getattr(img, "is_animated", False) and img.size == (100, 56)
    assert still["duration_ms"] == 0

    previews_s = gif["duration_ms"] / 1000 + webp["duration_ms"] / 1000 + default["duration_ms"] / 1000
    expected = previews_s * pricing.ANIMATION_PER_SECOND + pricing.IMAGE_PRICE
    assert job["total_actual_cost"] == pytest.approx(round(expected, 4), abs=1e-4)
    assert job["total_estimated_cost"] == pytest.approx((2 + 1.5 + 3) * 0.001 + 0.001, abs=1e-4)


def test_a_preview_counts_from_the_clip_start(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    outputs = [{"type": "gif", "animation": {"start": 0.5, "duration": 5, "fps": 10, "width": 80}}]
    resp = upload_form(api, media["video"], outputs, clip=json.dumps({"start": 2}))
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    with Image.open(_download(api, job, 0, tmp_path / "c.gif")) as img:
        assert getattr(img, "n_frames", 1) == 15  # the clip keeps 2 s; from 0.5 s of it: 1.5 s at 10 fps


def test_previews_of_inputs_without_pictures_or_sound_fail_clearly(api: Api, media: dict[str, Path]) -> None:
    job = api.wait(api.submit(media["tone"], [{"type": "gif"}, {"type": "webp", "animation": {}}])["id"])
    assert job["status"] == "failed" and job["error_code"] == "no-video-stream", job
    assert "a gif output needs one" in job["error_message"]
    job = api.wait(api.submit(media["silent"], [{"type": "waveform"}, {"type": "gif"}])["id"])
    assert job["status"] == "partial", job
    assert job["outputs"][0]["error_code"] == "no-audio-stream" and job["outputs"][1]["status"] == "completed"


@pytest.mark.parametrize(
    ("outputs", "says"),
    [
        ([{"type": "gif", "animation": {"duration": 31}}], "less than or equal to 30"),
        ([{"type": "mp4", "video": {"codec": "h264"}, "animation": {}}], "only for gif and webp outputs"),
        ([{"type": "webp", "animation": {"colors": 16}}], "colors is for gif only"),
        ([{"type": "gif", "animation": {"quality": 50}}], "quality is for webp only"),
        ([{"type": "gif", "image": {"width": 100}}], "takes `animation`, not `image`"),
        ([{"type": "waveform", "video": {"codec": "h264"}}], "takes only `waveform`"),
        ([{"type": "waveform", "waveform": {"color": "red"}}], "#RRGGBB"),
        ([{"type": "mp3", "waveform": {}}], "only for waveform outputs"),
    ],
)
def test_bad_combinations_are_400s_naming_what_is_allowed(
    api: Api, media: dict[str, Path], outputs: list[dict[str, Any]], says: str
) -> None:
    resp = api.upload(media["video"], outputs)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "invalid-input" and says in resp.json()["error"]["message"]


# ---------------------------------------------------------------- waveforms -------------------------------


def _astats_max(path: Path) -> int:
    """The largest sample ffmpeg's astats measures in `path`'s audio, as 16-bit mono."""
    run = subprocess.run(
        ["ffmpeg", "-v", "info", "-i", str(path), "-af", "aformat=sample_fmts=s16:channel_layouts=mono,astats",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(float(re.findall(r"Max level: ([-\d.]+)", run.stderr)[-1]))


def test_waveform_png_and_peaks(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    spec = {"type": "waveform", "waveform": {"width": 400, "height": 100, "points": 100}}
    job = api.wait(api.submit(media["half"], [spec])["id"])
    assert job["status"] == "completed", job
    out = job["outputs"][0]
    assert out["content_type"] == "image/png" and out["filename"] == "waveform.png"
    assert sorted(f["name"] for f in out["files"]) == ["waveform.json", "waveform.png"]
    assert out["duration_ms"] == pytest.approx(2000, abs=100)
    files = _files(api, job, 0, tmp_path / "wf")

    peaks = json.loads(files["waveform.json"].read_text())
    assert set(peaks) == {"version", "channels", "sample_rate", "samples_per_pixel", "bits", "length", "data"}
    assert (peaks["version"], peaks["channels"], peaks["bits"], peaks["length"]) == (2, 1, 16, 100)
    assert len(peaks["data"]) == 200
    highs = peaks["data"][1::2]
    # The first second is silent, the second a tone: the peaks follow it in time, and the loudest one is
    # what ffmpeg itself measures of the input.
    assert max(highs[:45]) < 50 and min(highs[55:95]) > 3000
    assert max(highs) == pytest.approx(_astats_max(media["half"]), rel=0.03)
    covered = peaks["length"] * peaks["samples_per_pixel"] / peaks["sample_rate"]
    assert covered == pytest.approx(2.0, abs=0.1)

    with Image.open(files["waveform.png"]) as img:
        assert img.size == (400, 100)
        alpha = img.convert("RGBA").getchannel("A")
        left, right = alpha.crop((0, 0, 190, 100)), alpha.crop((210, 0, 400, 100))
        # Silence draws (next to) nothing; the tone at 1/8 of full scale a band about 1/8 as tall, centred.
        assert (left.getbbox() or (0, 0, 0, 0))[3] - (left.getbbox() or (0, 0, 0, 0))[1] <= 2
        top, bottom = right.getbbox()[1], right.getbbox()[3]  # type: ignore[index]
        assert 6 <= bottom - top <= 20 and abs((top + bottom) / 2 - 50) <= 2
    assert job["total_actual_cost"] == pytest.approx(round(2 / 60 * pricing.AUDIO_PER_MINUTE, 4), abs=1e-4)


def test_waveform_of_a_video_split_channels_on_a_background(
    api: Api, media: dict[str, Path], tmp_path: Path
) -> None:
    spec = {
        "type": "waveform",
        "waveform": {
            "width": 200,
            "height": 80,
            "split_channels": True,
            "background": "#ffffff",
            "color": "#ff0000",
        },
    }
    job = api.wait(api.submit(media["video"], [spec])["id"])
    assert job["status"] == "completed", job
    files = _files(api, job, 0, tmp_path / "wf")
    peaks = json.loads(files["waveform.json"].read_text())
    assert peaks["channels"] == 2 and peaks["length"] == 200 and len(peaks["data"]) == 800
    with Image.open(files["waveform.png"]) as img:
        rgba = img.convert("RGBA")
        assert rgba.getpixel((0, 0)) == (255, 255, 255, 255)  # the background, opaque
        reds = [y for y in range(80) if rgba.getpixel((100, y))[1] < 128]  # type: ignore[index]
        assert any(y < 40 for y in reds) and any(y >= 40 for y in reds)  # one wave per channel

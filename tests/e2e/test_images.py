"""Image inputs and image outputs: JPEG/PNG/WebP/GIF in, jpg/png/webp/avif out, posters from videos.

Inputs are made with lavfi: a picture whose colour says where it came from (a GIF and a video of three
solid colours, red → green → blue, one per frame or second), so a test can tell which frame an output
holds. Every result is probed with ffprobe and opened with Pillow, a decoder independent of ffmpeg.
The plans without a stack are in tests/unit/test_images.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageOps

from recast.core import pricing
from tests.helpers import Api, colour_of, difference, ffprobe, tagged

# ---------------------------------------------------------------- probe ------------------------------------


# ---------------------------------------------------------------- image outputs ---------------------------


# ---------------------------------------------------------------- end to end -------------------------------


def test_image_job(api: Api, pictures: dict[str, Path], tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "webp", "image": {"width": 320, "quality": 70}},
        {"type": "jpg"},
        {"type": "png", "image": {"width": 100}},
        {"type": "avif", "image": {"width": 320}},
        {"type": "mp4", "video": {"codec": "h264"}},
        {"type": "mp3"},
    ]
    done = api.wait(api.submit(pictures["png"], outputs)["id"])
    assert done["status"] == "partial"
    assert done["input_metadata"]["kind"] == "image" and done["input_metadata"]["duration_ms"] == 0
    webp, jpg, png, avif, mp4, mp3 = done["outputs"]
    for out, kind, size in ((webp, "webp", (320, 180)), (jpg, "jpg", (640, 360)), (png, "png", (100, 56))):
        assert out["status"] == "completed", out
        assert out["filename"] == f"picture.{kind}" and out["content_type"] == f"image/{kind}".replace(
            "jpg", "jpeg"
        )
        assert (out["width"], out["height"]) == size
        resp = api.download(done["id"], out["id"], tmp_path / f"o.{kind}")
        assert resp.headers["content-type"] == out["content_type"]
        with Image.open(io.BytesIO(resp.content)) as opened:
            assert opened.size == size and opened.format == {"jpg": "JPEG"}.get(kind, kind.upper())
        assert int(ffprobe(tmp_path / f"o.{kind}")["format"]["size"]) == out["file_size_bytes"]
    assert avif["status"] == "completed" and avif["content_type"] == "image/avif"
    api.download(done["id"], avif["id"], tmp_path / "o.avif")
    with Image.open(tmp_path / "o.avif") as opened:
        assert (opened.format, opened.size) == ("AVIF", (320, 180))
    for failed in (mp4, mp3):
        assert failed["status"] == "failed" and failed["error_code"] == "image-input"
        assert "still image" in failed["error_message"]
    assert done["total_actual_cost"] == round(4 * pricing.IMAGE_PRICE, 4)


def test_video_output_of_an_image_fails_the_job(api: Api, pictures: dict[str, Path]) -> None:
    done = api.wait(api.submit(pictures["jpg"], [{"type": "webm", "video": {"codec": "vp9"}}])["id"])
    assert done["status"] == "failed" and done["error_code"] == "image-input"
    assert "still image" in done["error_message"] and done["outputs"][0]["status"] == "failed"


def test_poster_job(api: Api, pictures: dict[str, Path], tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [{"type": "jpg", "image": {"time": 2.5, "width": 160}}, {"type": "webp"}]
    done = api.wait(api.submit(pictures["video"], outputs)["id"])
    assert done["status"] == "completed", done
    blue, middle = done["outputs"]
    api.download(done["id"], blue["id"], tmp_path / "blue.jpg")
    api.download(done["id"], middle["id"], tmp_path / "middle.webp")
    with Image.open(tmp_path / "blue.jpg") as poster:
        assert poster.size == (160, 120) and colour_of(poster) == "blue"
    with Image.open(tmp_path / "middle.webp") as poster:
        assert poster.size == (320, 240) and colour_of(poster) == "green"


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([{"type": "png", "image": {"quality": 80}}], "lossless png"),
        ([{"type": "bmp"}], "outputs[0].type"),  # gif is an output type now: an animated preview
        ([{"type": "jpg", "image": {"width": 100000}}], "outputs[0].image.width"),
    ],
)
def test_invalid_image_outputs_are_400(
    api: Api, pictures: dict[str, Path], outputs: list[dict[str, Any]], message: str
) -> None:
    resp = api.upload(pictures["png"], outputs)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid-input" and message in error["message"], error


# ---------------------------------------------------------------- clips and joins --------------------------


def test_clip_job_with_a_poster_and_thumbnails(api: Api, pictures: dict[str, Path], tmp_path: Path) -> None:
    outputs = [
        {"type": "jpg", "image": {"time": 1.5}},
        {"type": "thumbnails", "thumbnails": {"times": [0.5], "sprite": True}},
    ]
    with pictures["video"].open("rb") as fh:
        resp = api.http.post(
            "/v1/jobs",
            files={"media": ("colours.mp4", fh, "video/mp4")},
            data={"outputs": json.dumps(outputs), "clip": json.dumps({"start": 1, "end": 3})},
        )
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed", done
    poster, thumbs = done["outputs"]
    api.download(done["id"], poster["id"], tmp_path / "poster.jpg")
    with Image.open(tmp_path / "poster.jpg") as picture:
        assert colour_of(picture) == "blue"  # 2.5 s of the input
    link = api.http.get(f"/v1/jobs/{done['id']}/outputs/{thumbs['id']}/download").json()
    files = {f["name"]: httpx.get(f["url"]).content for f in link["files"]}
    with Image.open(io.BytesIO(files["thumb_0001.jpg"])) as picture:
        assert colour_of(picture) == "green"  # 1.5 s of the input
    assert (
        files["thumbnails.vtt"]
        .decode()
        .strip()
        .endswith("00:00:00.000 --> 00:00:02.000\nsprite.jpg#xywh=0,0,320,240")
    )


# ---------------------------------------------------------------- EXIF orientation -------------------------


def test_a_sideways_photo_job_is_upright(api: Api, tmp_path: Path) -> None:
    src = tagged(tmp_path / "phone.jpg", 6)  # stored 320x160, shown 160x320 (turned clockwise)
    done = api.wait(api.submit(src, [{"type": "webp", "image": {"width": 80}}])["id"])
    assert done["status"] == "completed", done
    meta = done["input_metadata"]
    assert (meta["width"], meta["height"], meta["orientation"]) == (160, 320, 6)
    (out,) = done["outputs"]
    assert (out["width"], out["height"]) == (80, 160)
    resp = api.download(done["id"], out["id"], tmp_path / "o.webp")
    with Image.open(io.BytesIO(resp.content)) as got:
        want = ImageOps.exif_transpose(Image.open(src)).convert("RGB").resize((80, 160))
        assert difference(got.convert("RGB"), want) < 12

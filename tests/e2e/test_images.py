"""Image inputs and image outputs: JPEG/PNG/WebP/GIF in, jpg/png/webp/avif out, posters from videos.

Inputs are made with lavfi: a picture whose colour says where it came from (a GIF and a video of three
solid colours, red → green → blue, one per frame or second), so a test can tell which frame an output
holds. Every result is probed with ffprobe and opened with Pillow, a decoder independent of ffmpeg.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageOps
from pydantic import ValidationError

from recast.core import pricing, timeline
from recast.core.formats import InputKind
from recast.core.job import InputMetadata
from recast.core.requests import Clip, Priority
from recast.core.specs import OutputSpec
from recast.infra import ffmpeg_features
from recast.media import images, thumbnails, tools
from recast.media import probe as probing
from tests.helpers import Api, ffprobe, make_with_ffmpeg, stream

COLOURS = ("red", "green", "blue")
RGB = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}


def _colour_strip(rate: str) -> str:
    """Three solid colours one after the other, each one frame at `rate` (a lavfi graph)."""
    inputs = "".join(f"color=c={c}:s=320x240:r={rate}:d=1[{c}];" for c in COLOURS)
    return inputs + "".join(f"[{c}]" for c in COLOURS) + "concat=n=3:v=1:a=0"


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pictures")
    still = "testsrc2=size=640x360:rate=1"
    made = {}
    for ext in ("png", "jpg", "webp"):
        made[ext] = d / f"picture.{ext}"
        make_with_ffmpeg("-f", "lavfi", "-i", still, "-frames:v", "1", str(made[ext]))
    made["gif"] = d / "colours.gif"  # 3 frames: red, green, blue
    make_with_ffmpeg("-f", "lavfi", "-i", _colour_strip("1"), "-frames:v", "3", str(made["gif"]))
    made["video"] = d / "colours.mp4"  # 3 s: red, green, blue, 10 fps
    make_with_ffmpeg(
        "-f", "lavfi", "-i", _colour_strip("10"), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(made["video"])
    )  # fmt: skip
    return made


def probe(path: Path) -> InputMetadata:
    return probing.input_metadata(asyncio.run(probing.probe_raw(path)), path.stat().st_size)


def make(src: Path, spec_json: dict[str, Any], dst: Path) -> tuple[dict[str, Any], images.ImagePlan]:
    """Plan, run and check one image output the way encode_image does; returns ffprobe's view of it."""
    spec = OutputSpec.model_validate(spec_json)
    plan = images.image_plan(spec, probe(src), src, dst)
    run = subprocess.run(plan.args, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    data = asyncio.run(probing.probe_raw(dst))
    images.check_image(data, spec.type.value, plan.width, plan.height)
    return data, plan


def colour_of(picture: Image.Image) -> str:
    r, g, b = picture.convert("RGB").getpixel((picture.width // 2, picture.height // 2))  # type: ignore[misc]
    return min(RGB, key=lambda c: sum((x - y) ** 2 for x, y in zip(RGB[c], (r, g, b), strict=True)))


# ---------------------------------------------------------------- probe ------------------------------------


@pytest.mark.parametrize(("name", "codec"), [("png", "png"), ("jpg", "mjpeg"), ("webp", "webp")])
def test_still_images_are_image_inputs(pictures: dict[str, Path], name: str, codec: str) -> None:
    meta = probe(pictures[name])
    assert (meta.kind, meta.duration_ms, meta.width, meta.height, meta.codec) == (
        InputKind.image,
        0,
        640,
        360,
        codec,
    )


def test_gif_inputs(pictures: dict[str, Path], tmp_path: Path) -> None:
    # A GIF of several frames lasts (it can become an mp4); a one-frame GIF is a still image.
    animated = probe(pictures["gif"])
    assert animated.kind is InputKind.video and animated.codec == "gif" and animated.duration_ms > 0
    one = tmp_path / "one.gif"
    make_with_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(one))
    still = probe(one)
    assert (still.kind, still.width, still.height, still.duration_ms) == (InputKind.image, 64, 48, 0)


def test_other_image_formats_are_refused(tmp_path: Path) -> None:
    bmp = tmp_path / "picture.bmp"
    make_with_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(bmp))
    with pytest.raises(tools.MediaError, match="JPEG, PNG, WebP or GIF") as err:
        probe(bmp)  # bmp_pipe is not a whitelisted demuxer
    assert err.value.code == "invalid-media"
    # A file image2 opens by its extension, holding another codec.
    tiff = {
        "format": {"format_name": "image2"},
        "streams": [{"codec_type": "video", "codec_name": "tiff", "width": 64, "height": 48}],
    }
    with pytest.raises(tools.MediaError, match="not tiff") as err:
        probing.input_metadata(tiff, 100)
    assert err.value.code == "unsupported-codec"


# ---------------------------------------------------------------- image outputs ---------------------------


@pytest.mark.parametrize("source", ["png", "jpg", "webp", "gif"])
@pytest.mark.parametrize(
    ("kind", "codec", "pil_format"),
    [("jpg", "mjpeg", "JPEG"), ("png", "png", "PNG"), ("webp", "webp", "WEBP"), ("avif", "av1", "AVIF")],
)
def test_image_to_image(
    pictures: dict[str, Path], tmp_path: Path, source: str, kind: str, codec: str, pil_format: str
) -> None:
    dst = tmp_path / f"out.{kind}"
    data, plan = make(pictures[source], {"type": kind, "image": {"width": 160}}, dst)
    picture = stream(data, "video")
    want = (160, 120) if source == "gif" else (160, 90)
    assert picture is not None and picture["codec_name"] == codec
    assert (picture["width"], picture["height"]) == want == (plan.width, plan.height)
    with Image.open(dst) as opened:  # an independent decoder reads it
        opened.load()
        assert (opened.format, opened.size) == (pil_format, want)
        if source == "gif":
            assert colour_of(opened) == "red"  # the GIF's first frame


def test_avif_is_a_still_picture_with_the_avif_brand(pictures: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.avif"
    data, _ = make(pictures["png"], {"type": "avif"}, dst)
    assert data["format"]["tags"]["major_brand"] == "avif"
    head = dst.read_bytes()[:32]
    assert head[4:12] == b"ftypavif" and b"mif1" in head


@pytest.mark.parametrize("kind", ["jpg", "webp", "avif"])
def test_quality_changes_the_bytes(pictures: dict[str, Path], tmp_path: Path, kind: str) -> None:
    low, _ = make(pictures["png"], {"type": kind, "image": {"quality": 10}}, tmp_path / f"low.{kind}")
    high, _ = make(pictures["png"], {"type": kind, "image": {"quality": 95}}, tmp_path / f"high.{kind}")
    low_size, high_size = int(low["format"]["size"]), int(high["format"]["size"])
    assert low_size * 1.5 < high_size, (low_size, high_size)


@pytest.mark.parametrize(
    ("image", "want"),
    [
        ({"width": 2000}, (640, 360)),  # never upscaled
        ({"height": 90}, (160, 90)),
        ({"width": 200, "height": 200}, (200, 112)),  # fitted inside the box
        ({"width": 201}, (201, 113)),  # images need no even sides
    ],
)
def test_box_fit(
    pictures: dict[str, Path], tmp_path: Path, image: dict[str, int], want: tuple[int, int]
) -> None:
    data, _ = make(pictures["webp"], {"type": "webp", "image": image}, tmp_path / "o.webp")
    picture = stream(data, "video")
    assert picture is not None and (picture["width"], picture["height"]) == want


@pytest.mark.parametrize(("time", "colour"), [(None, "green"), (0.2, "red"), (2.5, "blue"), (60, "blue")])
def test_poster_from_a_video(
    pictures: dict[str, Path], tmp_path: Path, time: float | None, colour: str
) -> None:
    # Default: the middle (1.5 s of 3 s: green); a time past the end gives the last frame.
    spec: dict[str, Any] = {
        "type": "jpg",
        "image": {"width": 160} | ({"time": time} if time is not None else {}),
    }
    dst = tmp_path / "poster.jpg"
    make(pictures["video"], spec, dst)
    with Image.open(dst) as poster:
        assert poster.size == (160, 120) and colour_of(poster) == colour


def test_check_image_refuses_a_wrong_result(pictures: dict[str, Path], tmp_path: Path) -> None:
    data, _ = make(pictures["png"], {"type": "webp"}, tmp_path / "o.webp")
    with pytest.raises(tools.MediaError, match="expected 100x100"):
        images.check_image(data, "webp", 100, 100)
    with pytest.raises(tools.MediaError, match="expected a mjpeg picture"):
        images.check_image(data, "jpg", 640, 360)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "png", "image": {"quality": 50}}, "lossless png"),
        ({"type": "jpg", "image": {"quality": 0}}, "greater than or equal to 1"),
        ({"type": "jpg", "image": {"width": 10}}, "greater than or equal to 16"),
        ({"type": "jpg", "video": {"codec": "h264"}}, "takes no video"),
        ({"type": "webp", "audio": {"channels": 1}}, "takes no audio"),
        ({"type": "mp4", "video": {"codec": "h264"}, "image": {}}, "image is only for image outputs"),
        ({"type": "jpg", "thumbnails": {"count": 2}}, "takes `image`, not `thumbnails`"),
        ({"type": "bmp"}, "'jpg', 'png', 'webp', 'avif'"),
    ],
)
def test_invalid_image_specs(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OutputSpec.model_validate(spec)


def test_avif_detection() -> None:
    muxers = " E avi             AVI (Audio Video Interleaved)\n E avif            AVIF\n"
    encoders = " V....D libaom-av1           libaom AV1 (codec av1)\n"
    assert ffmpeg_features.can_write_avif(muxers, encoders)
    assert not ffmpeg_features.can_write_avif(muxers, " V..... libsvtav1  SVT-AV1\n")
    assert not ffmpeg_features.can_write_avif(" E avi  AVI\n", encoders)
    assert ffmpeg_features.avif_available()  # this machine's ffmpeg 5.1 has both (the tests above use them)
    assert ffmpeg_features.image_formats(avif=False) == ["jpg", "png", "webp"]


def test_image_prices() -> None:
    meta = InputMetadata(kind=InputKind.image, duration_ms=0, width=640, height=360, file_size_bytes=1)
    specs = [OutputSpec.model_validate({"type": t}) for t in ("jpg", "webp")]
    video = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
    assert pricing.estimate([*specs, video], meta, Priority.standard) == 2 * pricing.IMAGE_PRICE
    assert pricing.estimate(specs, meta, Priority.premium) == 4 * pricing.IMAGE_PRICE


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
        ([{"type": "gif"}], "outputs[0].type"),
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


def _joined(pictures: dict[str, Path]) -> tuple[InputMetadata, list[tuple[Path, InputMetadata]]]:
    """The colour video twice, end to end: red, green, blue, red, green, blue (6 s)."""
    meta = probe(pictures["video"])
    again = pictures["video"].with_name("again.mp4")  # a join's inputs are files of their own
    again.write_bytes(pictures["video"].read_bytes())
    parts = [(pictures["video"], meta), (again, meta)]
    return timeline.joined_metadata([meta, meta]), parts


@pytest.mark.parametrize(
    ("clip", "joined", "time", "colour"),
    [
        (Clip(start=1, end=3), False, 0.5, "green"),  # 1.5 s of the input
        (Clip(start=1, end=3), False, 1.5, "blue"),
        (Clip(start=1, end=3), False, None, "blue"),  # the clip's middle: 2.0 s
        (None, True, 3.5, "red"),  # the second input's first second
        (None, True, None, "red"),  # the join's middle: 3.0 s
        (Clip(start=2.5, end=6), True, 2, "green"),  # 4.5 s of the join
    ],
)
def test_poster_of_a_clip_or_a_join(
    pictures: dict[str, Path],
    tmp_path: Path,
    clip: Clip | None,
    joined: bool,
    time: float | None,
    colour: str,
) -> None:
    meta, parts = _joined(pictures) if joined else (probe(pictures["video"]), [])
    spec = OutputSpec.model_validate(
        {"type": "png", "image": {"width": 80} | ({"time": time} if time else {})}
    )
    dst = tmp_path / "poster.png"
    plan = images.image_plan(spec, meta, pictures["video"], dst, parts, clip)
    subprocess.run(plan.args, check=True, capture_output=True)
    images.check_image(asyncio.run(probing.probe_raw(dst)), "png", 80, 60)
    with Image.open(dst) as poster:
        assert colour_of(poster) == colour


def test_thumbnails_of_a_clip_and_of_a_join(pictures: dict[str, Path], tmp_path: Path) -> None:
    spec = OutputSpec.model_validate(
        {"type": "thumbnails", "thumbnails": {"times": [0.5, 1.5], "width": 64, "sprite": True}}
    )
    meta = probe(pictures["video"])
    clipped = thumbnails.thumbnails_plan(
        spec, meta, pictures["video"], _folder(tmp_path, "c"), clip=Clip(start=1, end=3)
    )
    joined_meta, parts = _joined(pictures)
    at = OutputSpec.model_validate(
        {"type": "thumbnails", "thumbnails": {"times": [1.5, 3.5, 5.5], "width": 64}}
    )
    joined = thumbnails.thumbnails_plan(
        at, joined_meta, pictures["video"], _folder(tmp_path, "j"), parts=parts
    )
    for plan, folder, colours in (
        (clipped, tmp_path / "c", ["green", "blue"]),
        (
            joined,
            tmp_path / "j",
            ["green", "red", "blue"],
        ),  # 1.5 s of the first input, 0.5 and 2.5 of the second
    ):
        subprocess.run(plan.args, check=True, capture_output=True)
        got = []
        for name in plan.images:
            with Image.open(folder / name) as picture:
                got.append(colour_of(picture))
        assert got == colours
    # The index covers the clip (2 s), not the input.
    cues = thumbnails.sprite_vtt(clipped, 2.0)
    assert "00:00:00.000 --> 00:00:01.500" in cues and "00:00:01.500 --> 00:00:02.000" in cues


def _folder(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


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


def _tagged(path: Path, orientation: int) -> Path:
    """A 320x160 JPEG (a green block in its stored top-left corner) tagged with this EXIF orientation."""
    picture = Image.new("RGB", (320, 160), (200, 30, 30))
    picture.paste((20, 200, 20), (0, 0, 100, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    picture.save(path, exif=exif.tobytes(), quality=95)
    return path


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0–255."""
    pairs = list(zip(a.tobytes(), b.tobytes(), strict=True))
    return sum(abs(x - y) for x, y in pairs) / len(pairs)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_outputs_of_the_displayed_shape(
    orientation: int, tmp_path: Path
) -> None:
    src = _tagged(tmp_path / "photo.jpg", orientation)
    upright = ImageOps.exif_transpose(Image.open(src)).convert("RGB")  # what viewers show
    meta = probe(src)
    assert (meta.width, meta.height) == upright.size
    assert meta.orientation == (orientation if orientation > 1 else None)
    for spec, size in (({"type": "png"}, upright.size), ({"type": "png", "image": {"width": 80}}, None)):
        _, plan = make(src, spec, tmp_path / "o.png")
        got = Image.open(tmp_path / "o.png").convert("RGB")
        want = upright if size else upright.resize((plan.width, plan.height), Image.Resampling.LANCZOS)
        assert got.size == want.size == (plan.width, plan.height)
        assert _difference(got, want) < 12, f"orientation {orientation}: not what a viewer shows"


def test_a_sideways_photo_job_is_upright(api: Api, tmp_path: Path) -> None:
    src = _tagged(tmp_path / "phone.jpg", 6)  # stored 320x160, shown 160x320 (turned clockwise)
    done = api.wait(api.submit(src, [{"type": "webp", "image": {"width": 80}}])["id"])
    assert done["status"] == "completed", done
    meta = done["input_metadata"]
    assert (meta["width"], meta["height"], meta["orientation"]) == (160, 320, 6)
    (out,) = done["outputs"]
    assert (out["width"], out["height"]) == (80, 160)
    resp = api.download(done["id"], out["id"], tmp_path / "o.webp")
    with Image.open(io.BytesIO(resp.content)) as got:
        want = ImageOps.exif_transpose(Image.open(src)).convert("RGB").resize((80, 160))
        assert _difference(got.convert("RGB"), want) < 12

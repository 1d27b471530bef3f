"""Image inputs and outputs without a stack: which files are image inputs, image plans (sizing,
quality, AVIF, posters and thumbnails of a clip or a join), the image check, EXIF orientation, prices.

Plans run with ffmpeg on lavfi pictures whose colour says which frame they hold; results are probed
and opened with Pillow, a decoder independent of ffmpeg.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

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
from tests.helpers import colour_of, difference, make_with_ffmpeg, probe, stream, tagged


def make(src: Path, spec_json: dict[str, Any], dst: Path) -> tuple[dict[str, Any], images.ImagePlan]:
    """Plan, run and check one image output the way encode_image does; returns ffprobe's view of it."""
    spec = OutputSpec.model_validate(spec_json)
    plan = images.image_plan(spec, probe(src), src, dst)
    run = subprocess.run(plan.args, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    data = asyncio.run(probing.probe_raw(dst))
    images.check_image(data, spec.type.value, plan.width, plan.height)
    return data, plan


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


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_outputs_of_the_displayed_shape(
    orientation: int, tmp_path: Path
) -> None:
    src = tagged(tmp_path / "photo.jpg", orientation)
    upright = ImageOps.exif_transpose(Image.open(src)).convert("RGB")  # what viewers show
    meta = probe(src)
    assert (meta.width, meta.height) == upright.size
    assert meta.orientation == (orientation if orientation > 1 else None)
    for spec, size in (({"type": "png"}, upright.size), ({"type": "png", "image": {"width": 80}}, None)):
        _, plan = make(src, spec, tmp_path / "o.png")
        got = Image.open(tmp_path / "o.png").convert("RGB")
        want = upright if size else upright.resize((plan.width, plan.height), Image.Resampling.LANCZOS)
        assert got.size == want.size == (plan.width, plan.height)
        assert difference(got, want) < 12, f"orientation {orientation}: not what a viewer shows"

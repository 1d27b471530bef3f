"""Presets and `fit` without a stack: every preset is an ordinary output spec, fields next to a preset
replace its own, and `fit` sizes plain outputs, joins and ladder rungs (cropdetect finds the bars)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from recast.core import presets, specs, timeline
from recast.core.specs import OutputSpec, VideoVariant
from recast.media import probe, renditions
from tests.helpers import make_clip, picture_box, stream


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

"""HLS/DASH ladders without a stack: the ladder plan (keyframes on segment boundaries, costs,
defaults, joined inputs, no audio), the package check, and the muxer's protocol whitelist."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from recast.core import pricing
from recast.core.job import InputMetadata
from recast.core.requests import Priority
from recast.core.specs import OutputSpec
from recast.media import probe, streaming, tools
from tests.helpers import make_clip

SEGMENT_S = 1


CLIP_S = 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("ladder") / "ladder.mp4", seconds=CLIP_S, size="640x360")


def _package(
    clip: Path, tmp_path: Path, spec_json: dict[str, Any]
) -> tuple[Path, OutputSpec, streaming.LadderPlan, InputMetadata]:
    spec = OutputSpec.model_validate(spec_json)
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    folder = tmp_path / "package"
    folder.mkdir()
    plan = streaming.ladder_plan(spec, meta, clip, folder)
    subprocess.run(plan.args, check=True, capture_output=True)
    return folder, spec, plan, meta


def test_check_package_refuses_a_broken_ladder(clip: Path, tmp_path: Path) -> None:
    spec = {
        "type": "hls",
        "video": [{"codec": "h264", "height": 360}, {"codec": "h264", "height": 180}],
        "segments": {"duration": SEGMENT_S},
    }
    folder, spec_, plan, meta = _package(clip, tmp_path, spec)
    info = asyncio.run(streaming.check_package(folder, spec_, plan, meta, tmp_path))
    assert [(r.width, r.height) for r in info.rungs] == [(640, 360), (320, 180)]
    master = folder / "master.m3u8"
    good = master.read_text()

    def refused(text: str, words: str) -> None:
        master.write_text(text)
        with pytest.raises(tools.MediaError, match=words) as err:
            asyncio.run(streaming.check_package(folder, spec_, plan, meta, tmp_path))
        assert err.value.code == "output-mismatch"

    refused(good.replace("RESOLUTION=320x180", "RESOLUTION=426x240"), "expected 320x180")
    refused(good.replace("avc1.", "hvc1.", 1), "expected avc1")
    refused(
        "\n".join(x for x in good.splitlines() if "180p" not in x and "320x180" not in x),
        "lists 1 rungs, 2 were asked",
    )
    refused(good.replace("180p/index.m3u8", "../../etc/passwd"), "does not contain")
    master.write_text(good)
    # A rung cut short: its segments no longer line up with the other's, and it lasts less than the input.
    playlist = folder / "180p" / "index.m3u8"
    lines = playlist.read_text().splitlines()
    playlist.write_text("\n".join(lines[:-3] + lines[-1:]))
    with pytest.raises(tools.MediaError, match="lasts"):
        asyncio.run(streaming.check_package(folder, spec_, plan, meta, tmp_path))
    shutil.rmtree(folder)


def test_ladder_gop_and_keyframes_follow_segment_length(clip: Path, tmp_path: Path) -> None:
    spec = OutputSpec.model_validate(
        {
            "type": "dash",
            "video": [{"codec": "h264", "height": 360}, {"codec": "av1", "height": 180, "framerate": 15}],
            "segments": {"duration": 2},
        }
    )
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    plan = streaming.ladder_plan(spec, meta, clip, tmp_path)
    args = plan.args
    assert args[args.index("-g:v:0") + 1] == "60" and args[args.index("-g:v:1") + 1] == "30"  # fps × 2 s
    assert args[args.index("-sc_threshold:v:0") + 1] == "0"
    assert args[args.index("-force_key_frames") + 1] == "expr:gte(t,n_forced*2)"
    assert args.count("-i") == 1 and "split=2" in args[args.index("-filter_complex") + 1]  # one decode
    assert args[args.index("-protocol_whitelist", args.index("-i")) + 1] == "file"  # the muxer's writes too


def test_ladder_costs_the_sum_of_its_rungs() -> None:
    meta = InputMetadata(duration_ms=60_000, width=1920, height=1080, file_size_bytes=1)
    ladder = OutputSpec.model_validate(
        {"type": "hls", "video": [{"codec": "h264", "resolution": r} for r in ("1080p", "720p", "480p")]}
    )
    assert pricing.estimate([ladder], meta, Priority.standard) == pytest.approx(0.015 + 0.010 + 0.005)


def test_segments_default_to_six_seconds() -> None:
    spec = OutputSpec.model_validate({"type": "hls", "video": {"codec": "h264"}})
    assert spec.segments is None and streaming.segment_duration(spec) == 6
    with pytest.raises(ValidationError, match="only for hls and dash"):
        OutputSpec.model_validate({"type": "webm", "video": {"codec": "vp9"}, "segments": {}})


def test_dash_ladder_of_joined_inputs(tmp_path: Path) -> None:
    from recast.core import timeline

    d = tmp_path / "in"
    d.mkdir()
    files = [make_clip(d / "a.mp4", seconds=1, size="640x360"), make_clip(d / "b.mp4", seconds=1, size="320x240", audio=False, rate=25)]  # fmt: skip
    parts = [(f, probe.input_metadata(asyncio.run(probe.probe_raw(f)), f.stat().st_size)) for f in files]
    joined = timeline.joined_metadata([m for _, m in parts])
    spec = OutputSpec.model_validate(
        {
            "type": "dash",
            "video": [{"codec": "h264"}, {"codec": "h264", "height": 180}],
            "segments": {"duration": 1},
        }
    )
    folder = tmp_path / "package"
    folder.mkdir()
    plan = streaming.ladder_plan(spec, joined, files[0], folder, parts=parts)
    subprocess.run(plan.args, check=True, capture_output=True)
    info = asyncio.run(streaming.check_package(folder, spec, plan, joined, tmp_path))
    assert [(r.width, r.height) for r in info.rungs] == [(640, 360), (320, 180)]
    assert info.duration_s == pytest.approx(2.0, abs=0.1) and info.audio is not None


@pytest.mark.parametrize("kind", ["hls", "dash"])
def test_muxer_writes_are_held_to_the_protocol_whitelist(clip: Path, tmp_path: Path, kind: str) -> None:
    # The output's `-protocol_whitelist file` binds the segment and playlist writes of the muxer too:
    # with another protocol as the only one allowed, its very first write is refused.
    spec = OutputSpec.model_validate({"type": kind, "video": [{"codec": "h264", "height": 180}]})
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    args = streaming.ladder_plan(spec, meta, clip, tmp_path).args
    at = args.index("-protocol_whitelist", args.index("-i") + 1)
    args[at + 1] = "pipe"
    run = subprocess.run(args, capture_output=True)
    assert run.returncode != 0 and b"Protocol 'file' not on whitelist 'pipe'" in run.stderr
    assert not list(tmp_path.rglob("*.m4s")) and not list(tmp_path.rglob("*.m3u8"))


def test_ladder_without_audio(clips: dict[str, Path], tmp_path: Path) -> None:
    spec = {"type": "hls", "video": [{"codec": "h264", "height": 180}], "segments": {"duration": SEGMENT_S}}
    folder, spec_, plan, meta = _package(clips["silent"], tmp_path, spec)
    info = asyncio.run(streaming.check_package(folder, spec_, plan, meta, tmp_path))
    assert info.audio is None and "#EXT-X-MEDIA" not in (folder / "master.m3u8").read_text()

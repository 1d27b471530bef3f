"""Trim and join without a stack: pieces cut from the joined timeline, joined metadata and
clamping, the whitelists every joined file is opened with, and prices."""

from __future__ import annotations

from pathlib import Path

import pytest

from recast.core import pricing, timeline
from recast.core.requests import Clip, Priority
from recast.core.specs import OutputSpec
from tests.helpers import meta

MP4 = {"type": "mp4", "video": {"codec": "h264", "preset": "ultrafast"}}


def test_pieces_cut_the_clip_from_the_joined_timeline() -> None:
    metas = [meta(2), meta(1), meta(3)]
    clip = timeline.resolve_clip(Clip(start=1.5, end=3.5), 6000)
    assert timeline.pieces(metas, clip) == [(0, 1.5, 0.5), (1, 0.0, 1.0), (2, 0.0, 0.5)]
    assert timeline.pieces(metas, None) == [(0, 0.0, 2.0), (1, 0.0, 1.0), (2, 0.0, 3.0)]
    # An input wholly outside the clip is not read; a sliver under a frame is left out.
    assert timeline.pieces(metas, Clip(start=3.0, end=4.0)) == [(2, 0.0, 1.0)]
    assert timeline.pieces(metas, Clip(start=1.98, end=2.5)) == [(1, 0.0, 0.5)]


def test_joined_metadata_and_clamping() -> None:
    joined = timeline.joined_metadata([meta(2, 320, 240, 25), meta(1, 1280, 720, 24), meta(1, 640, 360, 50)])
    assert (joined.duration_ms, joined.width, joined.height, joined.framerate) == (4000, 1280, 720, 50)
    assert timeline.joined_metadata([meta(1), meta(1, None, None, None)]).width is None
    assert timeline.resolve_clip(Clip(start=1, end=99), 4000) == Clip(start=1, end=4)
    assert timeline.resolve_clip(Clip(start=1), 4000) == Clip(start=1, end=4)
    with pytest.raises(timeline.ClipError, match="at or past the end"):
        timeline.resolve_clip(Clip(start=4, end=5), 4000)
    with pytest.raises(timeline.ClipError, match=r"at least 0\.1 s"):
        timeline.resolve_clip(Clip(start=3.95, end=5), 4000)


def test_every_joined_file_is_opened_with_the_whitelists_and_seeked_before_reading(tmp_path: Path) -> None:
    """Each input of a join is read like a single input (protocol `file`, the demuxer whitelist), and
    a clip seeks each piece with -ss/-t before its -i instead of decoding from the start."""
    from recast.media import renditions, tools

    parts = [(tmp_path / f"in{i}.mp4", meta(2)) for i in range(3)]
    joined = timeline.joined_metadata([m for _, m in parts])
    clip = timeline.resolve_clip(Clip(start=2.5, end=5), joined.duration_ms)
    spec = OutputSpec.model_validate(MP4)
    args = renditions.encode_plan(spec, joined, parts[0][0], tmp_path / "o.mp4", parts=parts, clip=clip).args
    opened = [i for i, a in enumerate(args) if a.startswith("file:") and args[i - 1] == "-i"]
    assert [args[i] for i in opened] == [f"file:{tmp_path}/in1.mp4", f"file:{tmp_path}/in2.mp4"]
    for i in opened:
        before = args[max(0, i - 11) : i]
        assert before[before.index("-protocol_whitelist") + 1] == "file"
        assert before[before.index("-format_whitelist") + 1] == tools.FORMAT_WHITELIST
        assert "-t" in before
    assert args[opened[0] - 11 : opened[0]].count("-ss") == 1  # input 1 from 0.5 s
    assert "concat" in args[args.index("-filter_complex") + 1]


def test_price_follows_the_output_duration() -> None:
    long = meta(600)
    specs = [OutputSpec.model_validate(MP4)]
    whole = pricing.estimate(specs, long, Priority.standard)
    clipped = timeline.resolve_clip(Clip(start=60, end=180), long.duration_ms)
    part = pricing.estimate(
        specs, long, Priority.standard, timeline.output_duration_s(long.duration_ms, clipped)
    )
    assert part == pytest.approx(whole / 5)


def test_outputs_of_activities_without_trim_or_join_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An output kind whose activity ignores parts and clip is refused, not made from the whole input."""
    from recast.core import output_activities as transcode  # timeline_unsupported's tables

    spec = OutputSpec.model_validate(MP4)
    monkeypatch.setitem(transcode.OUTPUT_ACTIVITY, spec.type, "some_other_activity")
    assert (
        transcode.timeline_unsupported(spec, clipped=True, joined=True)
        == "mp4 outputs cannot be made from a clip yet"
    )
    assert transcode.timeline_unsupported(spec, clipped=False, joined=True) == (
        "mp4 outputs cannot be made from joined inputs yet"
    )
    assert transcode.timeline_unsupported(spec, clipped=False, joined=False) is None
    monkeypatch.setattr(transcode, "TIMELINE_ACTIVITIES", {"encode_output", "some_other_activity"})
    assert transcode.timeline_unsupported(spec, clipped=True, joined=True) is None

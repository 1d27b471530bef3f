"""Split-and-stitch's pure parts: where chunks are cut, which frames a clip keeps, what `"chunking": "on"`
refuses, and the verdict on a stitched file's decode report."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from recast.core.chunking import chunkable, chunking_unsupported
from recast.core.requests import Clip
from recast.core.specs import OutputSpec
from recast.core.watermark import WatermarkSpec
from recast.media.chunks import FrameLayout, frame_span, ranges
from recast.media.stitch import concat_list
from recast.media.stitch_check import DecodeReport, verify
from recast.media.tools import MediaError


def test_chunks_cover_every_frame_once_and_a_short_tail_joins_the_chunk_before() -> None:
    assert ranges(1800, Fraction(30), 10) == [(i * 300, 300) for i in range(6)]
    assert ranges(320, Fraction(30), 10) == [(0, 320)]  # 20 frames left: too short to be a chunk
    assert ranges(450, Fraction(30), 10) == [(0, 300), (300, 150)]
    cut = ranges(1001, Fraction(30000, 1001), 2)
    assert sum(n for _, n in cut) == 1001 and cut[0] == (0, 60)


def test_a_boundary_moves_to_a_nearby_keyframe_but_the_grid_does_not_drift() -> None:
    # Keyframes every 250 frames: only 1500 is within a tenth of a chunk (30 frames) of a boundary.
    assert ranges(1800, Fraction(30), 10, keyframes=range(0, 1800, 250)) == [(i * 300, 300) for i in range(6)]
    assert ranges(1800, Fraction(30), 10, keyframes=[0, 290, 610]) == [
        (0, 290),
        (290, 320),
        (610, 290),
        (900, 300),
        (1200, 300),
        (1500, 300),
    ]
    # Farther than a tenth of a chunk: the boundary stays on the grid.
    assert ranges(1800, Fraction(30), 10, keyframes=[0, 340]) == [(i * 300, 300) for i in range(6)]


def test_a_clip_keeps_the_frames_whose_time_is_within_it() -> None:
    layout = FrameLayout(frames=100, rate=Fraction(25), constant=True)
    assert frame_span(layout, None) == (0, 100)
    assert frame_span(layout, Clip(start=0.5, end=3.3)) == (13, 83)
    assert frame_span(layout, Clip(start=0.52, end=3.32)) == (13, 83)
    assert frame_span(layout, Clip(start=1.0, end=60)) == (25, 100)
    assert ranges(70, Fraction(25), 1, first=13) == [(13, 25), (38, 25), (63, 20)]


def test_what_chunking_applies_to_and_what_on_refuses() -> None:
    mp4 = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
    hls = OutputSpec.model_validate({"type": "hls", "video": [{"codec": "h264"}]})
    mp3 = OutputSpec.model_validate({"type": "mp3"})
    assert chunkable(mp4) and chunkable(hls) and not chunkable(mp3)
    # What the chunk command does not make yet is encoded whole rather than lost.
    marked = mp4.model_copy(update={"watermark": WatermarkSpec(image="upload://up_1")})
    assert not chunkable(marked)
    assert not chunkable(hls.model_copy(update={"watermark": WatermarkSpec(image="upload://up_1")}))
    assert chunking_unsupported([mp4, mp3], joined=False) is None
    assert "joined inputs" in (chunking_unsupported([mp4], joined=True) or "")
    assert chunking_unsupported([mp4, hls], joined=False) is None  # ladders are chunked too


def test_the_concat_list_quotes_paths() -> None:
    listing = concat_list([Path("/s/it's/chunk_00000.mp4")])
    assert listing.splitlines() == ["ffconcat version 1.0", "file '/s/it'\\''s/chunk_00000.mp4'"]


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (DecodeReport(99, [], 3.96, 3.96), "99 frames"),
        (DecodeReport(100, ["corrupt frame"], 4.0, 4.0), "corrupt frame"),
        (DecodeReport(100, [], 4.2, 4.2), "ends at"),
        (DecodeReport(100, [], 4.0, 4.05), "ms apart"),
        (DecodeReport(100, [], 4.0, None), "no audio"),
    ],
)
def test_a_stitched_file_that_is_not_whole_is_refused(report: DecodeReport, why: str) -> None:
    with pytest.raises(MediaError, match=why) as refused:
        verify(report, 100, Fraction(25), audio=True)
    assert refused.value.code == "stitch-mismatch"


def test_a_whole_stitched_file_passes() -> None:
    verify(DecodeReport(100, [], 4.007, 4.03), 100, Fraction(25), audio=True)
    verify(DecodeReport(100, [], 4.0, None), 100, Fraction(25), audio=False)


def test_live_progress_of_a_chunked_output_is_the_mean_over_its_chunks() -> None:
    from recast.core.chunking import chunks_progress, live_chunks_progress

    # Four chunks: one done (the workflow's 22 %), two running at 50 % and 10 %, one waiting.
    assert chunks_progress(1, 4) == 22
    assert live_chunks_progress(22, 4, [50.0, 10.0]) == int(90 * (100 + 50 + 10) / 4 / 100)
    # Nothing done yet, one chunk of seven half way; never below what the workflow says, never past 90.
    assert live_chunks_progress(0, 7, [50.0]) == 6
    assert live_chunks_progress(chunks_progress(3, 7), 7, []) == chunks_progress(3, 7)
    assert live_chunks_progress(chunks_progress(6, 7), 7, [100.0, 100.0]) == 90

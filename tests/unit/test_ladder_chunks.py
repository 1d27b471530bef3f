"""The chunk grid of a split-and-stitch ladder: chunks start on segment starts, whole segments each, and
every segment start inside a chunk is a forced keyframe at the frame the whole ladder would make one."""

from __future__ import annotations

import math
from fractions import Fraction

from recast.core.specs import OutputSpec
from recast.media import ladder_chunks


def test_chunks_are_whole_segments_starting_on_segment_starts() -> None:
    # 4 s at 25 fps, 1 s segments, 2 s chunks: two chunks of 50 frames.
    assert ladder_chunks.ranges(100, Fraction(25), 2, 1) == [(0, 50), (50, 50)]
    # A chunk_duration that is no multiple of the segment is rounded to whole segments (3 s → 2 × 2 s).
    assert ladder_chunks.ranges(250, Fraction(25), 3, 2) == [(0, 100), (100, 100), (200, 50)]
    # A clip's frames from source frame 12: the grid starts at the clip's first frame; a short rest merges.
    assert ladder_chunks.ranges(60, Fraction(25), 1, 1, first=12) == [(12, 25), (37, 35)]


def test_boundaries_at_29_97_fall_where_the_whole_ladder_forces_keyframes() -> None:
    rate = Fraction(30000, 1001)
    cuts = ladder_chunks.ranges(3600, rate, 10, 2)
    # Each starts on the first frame at or after a multiple of the segment, as expr:gte(t,n_forced*2).
    grid = {math.ceil(n * 2 * rate) for n in range(100)}
    assert all(start in grid for start, _ in cuts)
    assert [start for start, _ in cuts][:3] == [0, 300, 600]
    # Inside the chunk from frame 300 (10.01 s): segment starts at 10.01, 12.012, …, in the chunk's time.
    start, frames = cuts[1]
    times = [float(t) for t in ladder_chunks.keyframe_times(start, frames, rate, 2).split(",")]
    assert times[0] == 0.0 and len(times) == 5
    assert [start + round(t * float(rate) + 0.25) for t in times] == [300, 360, 420, 480, 540]
    assert sorted(grid & set(range(start, start + frames))) == [300, 360, 420, 480, 540]


def test_what_a_chunked_ladder_does_not_do() -> None:
    lowered = OutputSpec.model_validate(
        {"type": "hls", "video": [{"codec": "h264"}, {"codec": "h264", "framerate": 15}]}
    )
    assert "frame rate" in (ladder_chunks.unchunkable(lowered, Fraction(25)) or "")
    plain = OutputSpec.model_validate({"type": "dash", "video": [{"codec": "h264"}]})
    assert ladder_chunks.unchunkable(plain, Fraction(25)) is None

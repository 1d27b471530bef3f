"""The timeline a job's outputs are made from: a join's inputs end to end, then the clip cut from it.

Pure functions of the models, so the workflow (sandboxed, deterministic) and the encoder agree on
every number: the joined metadata, the clamped clip, the expected output duration (what the output
check and the price use) and which piece of which input goes into the output.
"""

from __future__ import annotations

from typing import NamedTuple

from recast.core.job import InputMetadata
from recast.core.requests import MIN_CLIP_S, Clip

# Every joined input is converted to one frame rate: the highest of theirs, at most this.
MAX_JOIN_FPS = 120.0
DEFAULT_JOIN_FPS = 30.0  # when no input reports a frame rate
# A clip's first or last piece of an input shorter than this (about a frame) is left out of a join:
# it could give the concat no frame at all, and leaving it out costs less than the duration tolerance.
MIN_PIECE_S = 0.04


class ClipError(ValueError):
    """The clip does not fit the input: the job fails with `invalid-clip`."""


class Piece(NamedTuple):
    """Seconds `start` to `start + duration` of input `input_index` (on its own clock)."""

    input_index: int
    start: float
    duration: float


def canvas(metas: list[InputMetadata]) -> tuple[int, int] | None:
    """The frame size a join is fitted to: the largest input's (by area; the first of equals), so no
    input is shrunk below its own size before the output's own sizing. None if an input has no video."""
    sizes = [(m.width, m.height) for m in metas]
    if not all(w and h for w, h in sizes):
        return None
    best = max(range(len(sizes)), key=lambda i: ((sizes[i][0] or 0) * (sizes[i][1] or 0), -i))
    w, h = sizes[best]
    assert w and h
    return w, h


def join_framerate(metas: list[InputMetadata]) -> float:
    """The one frame rate a join is converted to: the highest input's, so no input loses motion."""
    rates = [m.framerate for m in metas if m.framerate]
    return min(MAX_JOIN_FPS, max(rates)) if rates else DEFAULT_JOIN_FPS


def joined_metadata(metas: list[InputMetadata]) -> InputMetadata:
    """The job's `input_metadata` for a join: durations and sizes summed, the canvas as width/height,
    the joined frame rate, and the codecs of the first input that has each kind of stream."""
    if len(metas) == 1:
        return metas[0]
    duration_ms = sum(m.duration_ms for m in metas)
    size = sum(m.file_size_bytes for m in metas)
    frame = canvas(metas)
    return InputMetadata(
        duration_ms=duration_ms,
        width=frame[0] if frame else None,
        height=frame[1] if frame else None,
        codec=next((m.codec for m in metas if m.codec), None),
        bitrate_kbps=round(size * 8 / duration_ms) if duration_ms else None,
        framerate=join_framerate(metas) if frame else None,
        audio_codec=next((m.audio_codec for m in metas if m.audio_codec), None),
        file_size_bytes=size,
    )


def resolve_clip(clip: Clip | None, duration_ms: int) -> Clip | None:
    """The clip with its end set and clamped to the input's (the joined inputs') duration.

    Raises ClipError when less than MIN_CLIP_S of the input is left: a start at or past its end.
    """
    if clip is None:
        return None
    total = duration_ms / 1000
    end = total if clip.end is None else min(clip.end, total)
    if end - clip.start < MIN_CLIP_S:
        if clip.start >= total:
            raise ClipError(
                f"clip.start ({clip.start:g} s) is at or past the end of the input ({total:.2f} s)"
            )
        raise ClipError(
            f"the clip keeps {max(0.0, end - clip.start):.2f} s of the input ({total:.2f} s); "
            f"at least {MIN_CLIP_S:g} s is needed"
        )
    return Clip(start=clip.start, end=end)


def output_duration_s(duration_ms: int, clip: Clip | None) -> float:
    """How long every output lasts: the resolved clip, or the whole input. The one place the expected
    duration comes from (output check, progress, price)."""
    if clip is None or clip.end is None:
        return duration_ms / 1000 - (clip.start if clip else 0.0)
    return clip.end - clip.start


def pieces(metas: list[InputMetadata], clip: Clip | None) -> list[Piece]:
    """Which part of which input a join puts in the output, in order: each input's overlap with the
    clip on the joined timeline (inputs wholly outside it are not read at all)."""
    total = sum(m.duration_ms for m in metas) / 1000
    start = clip.start if clip else 0.0
    end = clip.end if clip and clip.end is not None else total
    out: list[Piece] = []
    offset = 0.0
    for i, meta in enumerate(metas):
        length = meta.duration_ms / 1000
        lo, hi = max(start, offset), min(end, offset + length)
        if hi > lo:
            out.append(Piece(i, round(lo - offset, 6), round(hi - lo, 6)))
        offset += length
    kept = [p for p in out if p.duration >= MIN_PIECE_S]
    return kept or [max(out, key=lambda p: p.duration)] if out else []

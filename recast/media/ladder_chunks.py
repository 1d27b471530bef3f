"""Split-and-stitch for HLS/DASH ladders: chunk boundaries on segment starts, the one ffmpeg command that
decodes a chunk's frames once and encodes every rung from them (the decode-once saving of
streaming.ladder_plan, per chunk), and the commands that join each rung's chunks by stream copy, encode
the audio once for the whole timeline and package the joined rungs by stream copy with the same muxer
options as a whole ladder.

Alignment: a chunk starts on a segment boundary (the first frame at or after `n × segment` seconds, as
the whole encode's `-force_key_frames expr:gte(t,n_forced*seg)` picks it), and inside a chunk every
segment boundary is a forced keyframe (listed by its time in the chunk), with the rung's fixed GOP of
one segment. So every rung of every chunk cuts at the same frames as a whole ladder would, and the
packager (which cuts at keyframes) writes segments aligned across rungs.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import Fit, OutputType, VideoCodec
from recast.core.job import InputMetadata
from recast.core.requests import Clip
from recast.core.specs import OutputSpec, segment_duration
from recast.media import renditions, streaming
from recast.media.stitch import CHUNK_DEMUXERS
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS

RUNG_EXT = "mp4"  # every codec of a ladder (h264, h265, vp9, av1) goes in mp4, as its segments do


def segment_frame(n: int, seg: int, rate: Fraction) -> int:
    """The frame (counted from the output's first) that starts segment `n`: the first at or after
    n × seg seconds."""
    return math.ceil(n * seg * rate)


def ranges(frames: int, rate: Fraction, chunk_s: float, seg: int, first: int = 0) -> list[tuple[int, int]]:
    """(start frame, frames) of each chunk of a ladder of `frames` frames from source frame `first`:
    whole segments each (`chunk_s` rounded to a multiple of the segment, at least one), the last one
    taking the rest (merged into the one before when shorter than half a chunk)."""
    per = max(1, round(chunk_s / seg))
    starts = []
    n = 0
    while (start := segment_frame(n, seg, rate)) < frames:
        starts.append(start)
        n += per
    if len(starts) > 1 and frames - starts[-1] < segment_frame(per, seg, rate) / 2:
        starts.pop()
    bounds = [*starts, frames]
    return [(first + a, b - a) for a, b in itertools.pairwise(bounds)]


def keyframe_times(offset: int, frames: int, rate: Fraction, seg: int) -> str:
    """`-force_key_frames` times (seconds from the chunk's first frame) of the segment starts inside a
    chunk whose first frame is the output's frame `offset`: a quarter frame early, so float rounding
    can never move one to the next frame."""
    times = []
    n = math.floor(offset / (seg * rate))
    while (frame := segment_frame(n, seg, rate)) < offset + frames:
        if frame >= offset:
            times.append(max(0.0, float((frame - offset - Fraction(1, 4)) / rate)))
        n += 1
    return ",".join(f"{t:.6f}" for t in times)


def unchunkable(spec: OutputSpec, source_rate: Fraction) -> str | None:
    """Why this ladder is encoded whole rather than chunked."""
    if any(v.framerate and v.framerate < float(source_rate) for v in spec.video):
        return "a rung lowers the frame rate"
    if spec.burn_in is not None or spec.audio.loudness is not None:
        return "burned-in captions and loudness normalization are done on whole ladders only"
    return None


def rung_options(spec: OutputSpec, rung: streaming.Rung) -> dict[str, Any]:
    """The rung's encoder options (streaming._rung_options) for an output of its own: `-crf:v:2` → `-crf:v`."""
    suffix = f":v:{rung.index}"
    return {
        (key[: -len(suffix)] + ":v" if key.endswith(suffix) else key): value
        for key, value in streaming._rung_options(spec, rung).items()
    }


def chunk_command(
    spec: OutputSpec,
    meta: InputMetadata,
    rungs: Sequence[streaming.Rung],
    src: Path,
    dsts: Sequence[Path],
    start_frame: int,
    frames: int,
    offset: int,
    rate: Fraction,
    threads: int = 0,
) -> list[str]:
    """ffmpeg: source frames `[start_frame, start_frame + frames)` decoded once, split, and every rung
    encoded into its own file of `dsts` (video only); `offset` is the chunk's first frame counted from
    the output's first (where the segment grid starts)."""
    assert meta.width and meta.height
    seek = Clip(start=float((start_frame - Fraction(1, 2)) / rate)) if start_frame > 0 else None
    decoded = ffmpeg.input(f"file:{src}", **_seek(seek), **INPUT_OPTIONS).video
    decoded = decoded.filter("setpts", "PTS-STARTPTS")
    split = decoded.filter_multi_output("split", len(rungs)) if len(rungs) > 1 else None
    seg = segment_duration(spec)
    outputs = []
    for rung, dst in zip(rungs, dsts, strict=True):
        video = split.stream(rung.index) if split is not None else decoded
        if rung.variant.fit is not Fit.contain:
            video = renditions.fitted(video, (rung.width, rung.height), rung.variant.fit)
        elif (rung.width, rung.height) != (meta.width, meta.height):
            video = video.filter("scale", rung.width, rung.height)
        video = video.filter("format", "yuv420p")
        opts: dict[str, Any] = {
            "threads": threads,
            "frames:v": frames,
            "force_key_frames": keyframe_times(offset, frames, rate, seg),
            **rung_options(spec, rung),
        }
        outputs.append(ffmpeg.output(video, f"file:{dst}", format=RUNG_EXT, **opts))
    return [FFMPEG, *GLOBAL_ARGS, *ffmpeg.merge_outputs(*outputs).get_args()]


def _seek(clip: Clip | None) -> dict[str, Any]:
    return {"ss": f"{clip.start:.6f}"} if clip is not None and clip.start > 0 else {}


def stitch_rung_command(listing: Path, dst: Path, codec: VideoCodec) -> list[str]:
    """ffmpeg: one rung's chunks (the concat list `listing`) joined by stream copy into `dst`."""
    chunks = ffmpeg.input(
        f"file:{listing}", format="concat", safe=0, protocol_whitelist="file", format_whitelist=CHUNK_DEMUXERS
    )
    opts: dict[str, Any] = {"c:v": "copy"}
    if codec is VideoCodec.h265:
        opts["tag:v"] = "hvc1"
    out = ffmpeg.output(chunks.video, f"file:{dst}", format=RUNG_EXT, **opts)
    return [FFMPEG, *GLOBAL_ARGS, *out.get_args()]


def audio_command(
    spec: OutputSpec, src: Path, dst: Path, frames: int, rate: Fraction, first_frame: int = 0
) -> list[str]:
    """ffmpeg: the ladder's one audio rendition, encoded once from the source (from `first_frame`'s
    time, cut or padded with silence to the video's `frames / rate` seconds) into `dst` (mp4)."""
    length = f"{float(frames / rate):.6f}"
    seek = {"ss": f"{float(first_frame / rate):.6f}"} if first_frame else {}
    source = ffmpeg.input(f"file:{src}", **seek, t=length, **INPUT_OPTIONS)
    audio = source.audio.filter("apad", whole_dur=length)
    opts = {
        "c:a": renditions.AUDIO_ENCODERS[spec.audio_codec],
        "ac": spec.audio.channels,
        "ar": spec.sample_rate,
        "b:a": f"{spec.audio_bitrate_kbps}k",
    }
    out = ffmpeg.output(audio, f"file:{dst}", format=RUNG_EXT, **opts)
    return [FFMPEG, *GLOBAL_ARGS, *out.get_args()]


def package_command(
    spec: OutputSpec,
    rungs: Sequence[streaming.Rung],
    rung_files: Sequence[Path],
    audio_file: Path | None,
    outdir: Path,
) -> list[str]:
    """ffmpeg: the joined rungs (and the audio) packaged into hls/dash by stream copy, with the whole
    ladder's muxer options; each rung's peak bitrate is set on its stream so the manifest's
    BANDWIDTH is the same ceiling a whole ladder announces."""
    streams = [ffmpeg.input(f"file:{path}", **INPUT_OPTIONS).video for path in rung_files]
    if audio_file is not None:
        streams.append(ffmpeg.input(f"file:{audio_file}", **INPUT_OPTIONS).audio)
    opts: dict[str, Any] = {"c": "copy", "protocol_whitelist": streaming.OUTPUT_PROTOCOLS}
    if spec.type is OutputType.hls:
        for i, rung in enumerate(rungs):
            if rung.variant.codec is VideoCodec.h264:
                # The hls muxer reads CODECS (avc1.PPCCLL) from Annex B parameter sets only.
                opts[f"bsf:v:{i}"] = "h264_mp4toannexb"
            elif rung.variant.codec is VideoCodec.h265:
                opts[f"tag:v:{i}"] = "hvc1"
    _, target = streaming.package_options(spec, rungs, outdir, audio_file is not None, opts)
    out = ffmpeg.output(*streams, target, format=spec.type.value, **opts)
    return [FFMPEG, *GLOBAL_ARGS, *out.get_args()]


def hls_bandwidth(rung: streaming.Rung, audio_kbps: int | None) -> int:
    """The BANDWIDTH a whole ladder's master playlist gives a rung: the hls muxer adds a tenth to the
    encoders' announced rates, the rung's peak (VBV maxrate) plus the audio's bitrate."""
    bits = rung.peak_kbps * 1000 + (audio_kbps or 0) * 1000
    return bits + bits // 10


def set_hls_bandwidth(outdir: Path, rungs: Sequence[streaming.Rung], audio_kbps: int | None) -> None:
    """Rewrite the master playlist's BANDWIDTH of every rung (and of the audio-only variant) to what a
    whole ladder announces: stream-copied streams carry no peak rate, so the muxer wrote their average
    instead, which is no ceiling a player can plan with."""
    master = outdir / streaming.HLS_ENTRY
    lines = master.read_text().splitlines()
    video = iter(rungs)
    for i, line in enumerate(lines):
        if not line.startswith("#EXT-X-STREAM-INF:"):
            continue
        attrs = streaming.hls_attributes(line[len("#EXT-X-STREAM-INF:") :])
        if "RESOLUTION" in attrs:
            value = hls_bandwidth(next(video), audio_kbps)
        else:
            bits = (audio_kbps or 0) * 1000
            value = bits + bits // 10
        lines[i] = re.sub(r"BANDWIDTH=\d+", f"BANDWIDTH={value}", line)
    master.write_text("\n".join(lines) + "\n")


def set_dash_bandwidth(outdir: Path, rungs: Sequence[streaming.Rung], audio_kbps: int | None) -> None:
    """Rewrite the MPD's bandwidth where a whole ladder announces its encoder's target rather than the
    measured average (the dash muxer's rule): a rung with a target bitrate (`b:v`: VP9's cap, or an asked
    `bitrate`) and the audio. Stream copies carry no target, so the muxer measured them all."""
    mpd = outdir / streaming.DASH_ENTRY
    text = mpd.read_text()
    targets = {
        str(r.index): r.peak_kbps for r in rungs if r.variant.bitrate or r.variant.codec is VideoCodec.vp9
    }
    if audio_kbps:
        targets[str(len(rungs))] = audio_kbps

    def fix(match: re.Match[str]) -> str:
        kbps = targets.get(match.group(2))
        tag = match.group(0)
        return re.sub(r'bandwidth="\d+"', f'bandwidth="{kbps * 1000}"', tag) if kbps else tag

    mpd.write_text(re.sub(r'<Representation (id="([^"]*)")[^>]*>', fix, text))

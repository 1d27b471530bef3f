"""The `waveform` output: a PNG of the audio's amplitude over time (ffmpeg's `showwavespic`) and a JSON
of its peaks for players, both from ONE ffmpeg process that decodes the audio once, then the check of
both files. The plan is a pure function; `peaks_json` reads the decoded PCM the process wrote.

The JSON has the shape of BBC's audiowaveform (`{version, channels, sample_rate, samples_per_pixel,
bits, length, data}`, `data` a min and a max per point and channel, interleaved), which peaks.js and
wavesurfer.js read. No library computes it from ffmpeg's output, and audiowaveform itself is a C++
program Debian does not package for every release; a min/max per bucket of 16-bit samples is a few
lines, so it is computed here from the PCM ffmpeg decodes beside the PNG.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.job import InputMetadata
from recast.core.previews import WaveformSpec
from recast.core.requests import Clip
from recast.core.specs import OutputSpec
from recast.core.timeline import output_duration_s
from recast.media.images import Part
from recast.media.probe import first_stream
from recast.media.renditions import source_streams
from recast.media.tools import FFMPEG, GLOBAL_ARGS, MediaError

PNG_NAME = "waveform.png"
JSON_NAME = "waveform.json"
PCM_NAME = "peaks.pcm"
# Peaks are taken from 16-bit PCM at up to 44.1 kHz; a long input is decoded at a lower rate so the
# PCM file stays under ~120 MB per channel (a 4 h input: ~4 kHz, still ~150 samples per point of 100k).
MAX_PEAK_RATE = 44100
MIN_PEAK_RATE = 1000
MAX_PCM_SAMPLES = 60_000_000
# How many points are reduced per read of the PCM file.
POINTS_PER_READ = 256


@dataclass(frozen=True)
class WaveformPlan:
    args: list[str]
    width: int
    height: int
    channels: int
    sample_rate: int
    points: int
    pcm: Path
    duration_s: float


def peak_rate(duration_s: float) -> int:
    """The sample rate the peaks are computed at: 44.1 kHz, lower for long inputs (MAX_PCM_SAMPLES)."""
    if duration_s <= 0:
        return MAX_PEAK_RATE
    return max(MIN_PEAK_RATE, min(MAX_PEAK_RATE, int(MAX_PCM_SAMPLES / duration_s)))


def waveform_plan(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    folder: Path,
    pcm: Path,
    parts: Sequence[Part] = (),
    clip: Clip | None = None,
) -> WaveformPlan:
    """The PNG into `folder` and the raw PCM (for the JSON) into `pcm`, from one decode of the audio of
    the job's timeline (clip and join as for every output: media.source_streams)."""
    if not meta.audio_codec:
        raise MediaError("no-audio-stream", "the input has no audio stream; a waveform output needs one")
    wf = spec.waveform or WaveformSpec()
    duration = output_duration_s(meta.duration_ms, clip)
    channels = 2 if wf.split_channels else 1  # split: a mono input shows the same wave twice
    rate = peak_rate(duration)
    _, audio = source_streams(src, meta, parts, clip, None, None, (rate, channels))
    if len(parts) <= 1:
        # source_streams leaves a single input's audio as it is: convert it for both branches here.
        layout = "mono" if channels == 1 else "stereo"
        audio = audio.filter("aformat", sample_fmts="s16", sample_rates=rate, channel_layouts=layout)
    branches = audio.filter_multi_output("asplit", 2)
    colors = "|".join([wf.color] * channels)
    wave = branches.stream(0).filter(
        "showwavespic", s=f"{wf.width}x{wf.height}", split_channels=int(wf.split_channels), colors=colors,
        filter="peak",
    )  # fmt: skip
    if wf.background:
        # A generated source, not a file (as a join's silence): the input whitelists guard files.
        ground = ffmpeg.input(f"color=c={wf.background}:s={wf.width}x{wf.height}:r=1", format="lavfi", t=1)
        wave = ffmpeg.filter([ground, wave], "overlay", format="auto")
    picture = ffmpeg.output(
        wave.filter("format", "rgba"),
        f"file:{folder / PNG_NAME}",
        format="image2",
        update=1,
        **{"frames:v": 1, "c:v": "png"},
    )
    samples = ffmpeg.output(
        branches.stream(1), f"file:{pcm}", format="s16le", **{"c:a": "pcm_s16le", "ac": channels, "ar": rate}
    )
    node = ffmpeg.merge_outputs(picture, samples)
    return WaveformPlan(
        [FFMPEG, *GLOBAL_ARGS, *node.get_args()],
        wf.width,
        wf.height,
        channels,
        rate,
        wf.peaks,
        pcm,
        duration,
    )


def peaks_json(plan: WaveformPlan) -> dict[str, Any]:
    """The peaks of the decoded PCM in audiowaveform's JSON (version 2): `plan.points` points, each the
    minimum and maximum 16-bit sample of its bucket for every channel in turn. Read in blocks, so a long
    input never sits in memory whole."""
    ch = plan.channels
    total = plan.pcm.stat().st_size // (2 * ch)  # sample frames
    if total == 0:
        raise MediaError("output-mismatch", "the audio decoded to no samples")
    per_point = max(1, math.ceil(total / plan.points))
    length = math.ceil(total / per_point)
    data: list[int] = []
    block_bytes = per_point * ch * 2 * POINTS_PER_READ
    with plan.pcm.open("rb") as fh:
        while chunk := fh.read(block_bytes):
            samples = array("h")
            samples.frombytes(chunk[: len(chunk) - len(chunk) % (2 * ch)])
            step = per_point * ch
            for at in range(0, len(samples), step):
                bucket = samples[at : at + step]
                for c in range(ch):
                    values = bucket[c::ch]
                    data += (min(values), max(values))
    return {
        "version": 2,
        "channels": ch,
        "sample_rate": plan.sample_rate,
        "samples_per_pixel": per_point,
        "bits": 16,
        "length": length,
        "data": data,
    }


def write_peaks(plan: WaveformPlan, folder: Path) -> dict[str, Any]:
    peaks = peaks_json(plan)
    (folder / JSON_NAME).write_text(json.dumps(peaks, separators=(",", ":")), encoding="utf-8")
    return peaks


def check_waveform(png: dict[str, Any], peaks: dict[str, Any], plan: WaveformPlan) -> None:
    """The PNG is a picture of the asked size; the JSON has at most the asked number of points, each pair
    a minimum at or under its maximum, for every channel, and covers the whole duration."""
    picture = first_stream(png, "video") or {}
    if picture.get("codec_name") != "png":
        raise MediaError("output-mismatch", f"expected a png waveform, got {picture.get('codec_name')}")
    if (picture.get("width"), picture.get("height")) != (plan.width, plan.height):
        raise MediaError(
            "output-mismatch",
            f"expected a {plan.width}x{plan.height} waveform, got {picture.get('width')}x{picture.get('height')}",
        )
    data, ch, length = peaks["data"], peaks["channels"], peaks["length"]
    if not 1 <= length <= plan.points or len(data) != 2 * ch * length:
        raise MediaError("output-mismatch", f"expected {plan.points} peak points, got {length}")
    if any(lo > hi for lo, hi in zip(data[::2], data[1::2], strict=True)):
        raise MediaError("output-mismatch", "a peak's minimum is above its maximum")
    covered = length * peaks["samples_per_pixel"] / peaks["sample_rate"]
    if covered + 0.25 < plan.duration_s * 0.98:
        raise MediaError(
            "output-mismatch", f"the peaks cover {covered:.2f} s of the {plan.duration_s:.2f} s of audio"
        )

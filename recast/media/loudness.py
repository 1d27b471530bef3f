"""Loudness (EBU R128) for outputs with `audio.loudness`: the measuring pass, the correction filter and
the parsing of ffmpeg's report.

Two passes with ffmpeg's `loudnorm`: the first only measures the audio the output is made from (the
clip or join, through renditions.source_streams, so it measures exactly what gets encoded); the second
is the encode, with loudnorm given the measured values and `linear=true`. With measurements, loudnorm
applies one gain to the whole file — the dynamics untouched — whenever that gain keeps the true peak
under the ceiling and the loudness range within its target; only otherwise does it fall back to its
dynamic mode (a gain varying over time and a true-peak limiter). Single-pass loudnorm is always
dynamic, which is why the measuring pass exists. The finished file is measured once more, so the
report's output levels are what a listener gets, not loudnorm's own estimate.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.job import InputMetadata
from recast.core.loudness import LoudnessLevels, LoudnessReport, LoudnessSpec
from recast.core.requests import Clip
from recast.media import renditions
from recast.media.tools import FFMPEG, INPUT_OPTIONS, MediaError

# loudnorm's default loudness-range target. The target is raised to the input's own range (up to
# loudnorm's maximum, 50 LU) so a wide input is still corrected linearly rather than compressed.
DEFAULT_LRA = 7.0
MAX_LRA = 50.0
# loudnorm treats a measured LRA of exactly 0 as "not measured" and goes dynamic; a steady tone or
# a constant noise really has a range of 0, so it is passed as this instead.
MIN_MEASURED_LRA = 0.01
# Below this loudnorm's analysis reports -inf/-70: silence, which no gain can bring to a target.
SILENCE_LUFS = -69.0
# A lossy encoder (AAC, Opus, MP3) rebuilds the waveform and its peaks overshoot what went in: by up
# to ~1 dB on limited material, measured here. loudnorm aims this far under the ceiling for them, so the
# finished file's true peak stays at or under what was asked.
LOSSY_PEAK_MARGIN_DB = 1.0
MIN_TRUE_PEAK_DB = -9.0  # loudnorm's lowest TP
MEASURE_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Measurement:
    """loudnorm's analysis of some audio: what the report shows, plus the gating threshold pass 2 needs."""

    levels: LoudnessLevels
    threshold: float


@dataclass(frozen=True)
class LoudnessPlan:
    """What the encode does to the audio: normalize (pass 2 of loudnorm) or nothing (measure_only)."""

    spec: LoudnessSpec
    source: Measurement
    channels: int
    lossy: bool = True

    @property
    def ceiling(self) -> float:
        """The true peak loudnorm aims under: the one asked, less the lossy encoder's overshoot."""
        margin = LOSSY_PEAK_MARGIN_DB if self.lossy else 0.0
        return max(MIN_TRUE_PEAK_DB, self.spec.true_peak_db - margin)

    @property
    def normalizes(self) -> bool:
        return not self.spec.measure_only

    @property
    def target_lra(self) -> float:
        return min(MAX_LRA, max(DEFAULT_LRA, round(self.source.levels.loudness_range_lu + 0.05, 1)))

    @property
    def linear(self) -> bool:
        """loudnorm's own rule: linear when the one gain keeps the true peak under the ceiling (the
        loudness range is within target by construction, see target_lra)."""
        gain = self.spec.target_lufs - self.source.levels.integrated_lufs
        return self.source.levels.true_peak_db + gain <= self.ceiling

    def apply(self, audio: Any) -> Any:
        """The ffmpeg-python audio stream, normalized (or unchanged with measure_only)."""
        if not self.normalizes:
            return audio
        levels = self.source.levels
        return downmixed(audio, self.channels).filter(
            "loudnorm",
            I=self.spec.target_lufs,
            TP=self.ceiling,
            LRA=self.target_lra,
            measured_I=levels.integrated_lufs,
            measured_TP=levels.true_peak_db,
            measured_LRA=max(MIN_MEASURED_LRA, levels.loudness_range_lu),
            measured_thresh=self.source.threshold,
            linear="true",
        )

    def report(self, output: Measurement) -> LoudnessReport:
        return LoudnessReport(
            input=self.source.levels,
            output=output.levels,
            target_lufs=None if self.spec.measure_only else self.spec.target_lufs,
            true_peak_db=None if self.spec.measure_only else self.spec.true_peak_db,
            normalization="none" if self.spec.measure_only else "linear" if self.linear else "dynamic",
        )


def measure_args(audio: Any) -> list[str]:
    """The measuring pass over an ffmpeg-python audio stream: loudnorm's analysis printed as JSON on
    stderr (hence the `info` log level), nothing written."""
    out = ffmpeg.output(audio.filter("loudnorm", print_format="json"), "-", format="null")
    return [FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", *out.get_args()]


def file_audio(path: Path) -> Any:
    """The audio of a local file (the finished output, a package's audio joined into one file)."""
    return ffmpeg.input(f"file:{path}", **INPUT_OPTIONS).audio


_JSON = re.compile(r"\[Parsed_loudnorm[^\]]*\]\s*(\{.*?\})", re.S)


def parse_measurement(stderr: str) -> Measurement:
    """loudnorm's JSON block from ffmpeg's stderr."""
    found = _JSON.findall(stderr)
    if not found:
        raise MediaError("loudness-failed", "ffmpeg printed no loudness measurement")
    data = json.loads(found[-1])

    def number(key: str) -> float:
        value = float(data[key])
        return -70.0 if value == float("-inf") else value

    integrated = number("input_i")
    return Measurement(
        LoudnessLevels(
            integrated_lufs=integrated,
            true_peak_db=number("input_tp"),
            loudness_range_lu=number("input_lra"),
        ),
        number("input_thresh"),
    )


async def measure(args: Sequence[str], timeout_s: float = MEASURE_TIMEOUT_S) -> Measurement:
    """Run a measuring pass and parse it; the process is killed if this is cancelled."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(timeout_s):
            _, err = await proc.communicate()
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    text = err.decode(errors="replace")
    if proc.returncode != 0:
        tail = text.strip().splitlines()[-1:] or ["no message"]
        raise MediaError("loudness-failed", f"measuring the loudness failed: {tail[0]}")
    return parse_measurement(text)


def check_measurable(spec: LoudnessSpec, source: Measurement) -> None:
    """Silence has no loudness to correct: refuse it clearly instead of amplifying noise by 50 dB."""
    if not spec.measure_only and source.levels.integrated_lufs <= SILENCE_LUFS:
        raise MediaError(
            "loudness-failed",
            f"the audio is silent ({source.levels.integrated_lufs:g} LUFS): it cannot be normalized "
            'to a target; use {"measure_only": true} to only report it',
        )


def source_audio(
    src: Path,
    meta: InputMetadata,
    parts: Sequence[tuple[Path, InputMetadata]],
    clip: Clip | None,
    audio_format: tuple[int, int],
) -> Any:
    """The audio an output is made from (clip, join) with its channels as the output's: what the
    encode's loudnorm will see (see LoudnessPlan.apply)."""
    _, audio = renditions.source_streams(src, meta, parts, clip, None, None, audio_format)
    return downmixed(audio, audio_format[1])


def downmixed(audio: Any, channels: int) -> Any:
    """The audio in the output's channel layout. Loudness is measured and corrected after the
    downmix, not before: BS.1770 sums the channels' power, so stereo folded to mono is ~3 LU quieter."""
    return audio.filter("aformat", channel_layouts="mono" if channels == 1 else "stereo")

"""Remux when nothing needs re-encoding: an mp4/mov output whose input streams already are what it asks
(codec, frame size, frame rate, bitrate bounds, pixel format, audio codec, channels and sample rate)
gets those streams copied into the new container (`-c copy`, MP4 with `+faststart`) instead of encoded.
A copy is exact (the same packets) and tens of times faster than an encode (bench/remux.py).

Strict on purpose: every condition an encode would change fails `why_encode`, which names the first
one, and the output is encoded. The copied file then passes the same checks as an encoded one (the
probe check, the full decode). No trim or join (a copy can only cut at keyframes), no rotated picture
(an encode turns the pixels upright; a copy keeps a rotation flag), no variable frame rate (an mp4 encode
is constant-rate), no asked encoder settings (`preset`, a `profile` the input does not have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recast.core.formats import Fit, OutputType, VideoCodec
from recast.core.job import InputMetadata
from recast.core.requests import Clip
from recast.core.specs import OutputSpec, target_size
from recast.media import probe, renditions, streaming
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS

REMUX_TYPES = frozenset({OutputType.mp4, OutputType.mov})
# Profiles a copy may carry when none is asked: what every player of the codec decodes (8-bit 4:2:0).
PLAIN_PROFILES: dict[VideoCodec, frozenset[str]] = {
    VideoCodec.h264: frozenset({"high", "main", "constrained baseline"}),
    VideoCodec.h265: frozenset({"main"}),
    VideoCodec.vp9: frozenset({"profile 0"}),
    VideoCodec.av1: frozenset({"main"}),
}
# A measured bitrate may exceed the asked one by this much (rate control is never exact).
BITRATE_SLACK = 1.1


def _kbps(stream: dict[str, Any]) -> float | None:
    value = str(stream.get("bit_rate") or "")
    return int(value) / 1000 if value.isdigit() else None


def why_encode(
    spec: OutputSpec,
    meta: InputMetadata,
    data: dict[str, Any],
    *,
    clip: Clip | None = None,
    joined: bool = False,
) -> str | None:
    """None when the output can be a copy of the input's streams (`data`: ffprobe of the input), else
    the first reason it must be encoded."""
    if spec.type not in REMUX_TYPES:
        return f"{spec.type.value} outputs are always encoded"
    if clip is not None or joined:
        return "a trim or join is cut exactly only by an encode"
    changed = (spec.background, spec.burn_in, spec.audio.loudness, spec.watermark)
    if any(change is not None for change in changed):
        return "the picture or the sound is changed (background, burn_in, loudness or watermark)"
    video = probe.first_stream(data, "video")
    if video is None or not (meta.width and meta.height) or len(spec.video) != 1:
        return "no video stream to copy"
    variant = spec.video[0]
    want_codec = renditions.FFPROBE_CODEC[variant.codec]
    if video.get("codec_name") != want_codec:
        return f"the input's video is {video.get('codec_name')}, {variant.codec.value} is asked"
    if variant.codec is VideoCodec.h265 and video.get("codec_tag_string") != "hvc1":
        return "h265 is copied only from hvc1-tagged input (Apple players refuse hev1)"
    if variant.preset is not None:
        return "an encoder preset is asked"
    profile = str(video.get("profile") or "").lower()
    if variant.profile is not None:
        if profile.removeprefix("constrained ") != variant.profile.value:
            return f"profile {variant.profile.value} is asked, the input is {profile or 'unknown'}"
    elif profile not in PLAIN_PROFILES[variant.codec]:
        return f"the input's profile ({profile or 'unknown'}) is not one every player decodes"
    if video.get("pix_fmt") != "yuv420p":
        return f"the input's pixels are {video.get('pix_fmt')}, outputs are yuv420p"
    if probe._rotation(video):
        return "the input is rotated; an encode turns it upright"
    if str(video.get("sample_aspect_ratio") or "1:1") not in ("1:1", "0:1", "N/A"):
        return "the input's pixels are not square"
    if variant.fit is not Fit.contain or target_size(variant, meta.width, meta.height) != (
        meta.width,
        meta.height,
    ):
        return "the asked frame size differs from the input's"
    if (video.get("width"), video.get("height")) != (meta.width, meta.height):
        return "the input's coded size differs from its displayed size"
    r_fps, avg_fps = (
        probe.frame_ratio(video.get("r_frame_rate")),
        probe.frame_ratio(video.get("avg_frame_rate")),
    )
    if not r_fps or not avg_fps or abs(r_fps - avg_fps) > 0.01:
        return "the input's frame rate is variable or unknown; mp4 encodes are constant-rate"
    if variant.framerate and variant.framerate < avg_fps:
        return f"{variant.framerate:g} fps is asked, the input has {avg_fps:g}"
    video_kbps = _kbps(video) or meta.bitrate_kbps  # the whole file's rate bounds the video's
    ceiling = variant.bitrate or streaming.peak_kbps(variant, meta.height)
    if video_kbps is None or video_kbps > ceiling * BITRATE_SLACK:
        shown = f"{video_kbps:.0f}" if video_kbps else "unknown"
        return f"the input's video bitrate ({shown} kb/s) is above the output's bound ({ceiling} kb/s)"
    audio = probe.first_stream(data, "audio")
    if audio is not None and spec.audio.enabled:
        want_audio = spec.audio_codec.value
        if audio.get("codec_name") != want_audio:
            return f"the input's audio is {audio.get('codec_name')}, {want_audio} is asked"
        if audio.get("channels") != spec.audio.channels:
            return f"{spec.audio.channels} audio channels are asked, the input has {audio.get('channels')}"
        if int(audio.get("sample_rate") or 0) != spec.sample_rate:
            return f"{spec.sample_rate} Hz audio is asked, the input has {audio.get('sample_rate')}"
        audio_kbps, want_kbps = _kbps(audio), spec.audio_bitrate_kbps
        if want_kbps and (audio_kbps is None or audio_kbps > want_kbps * BITRATE_SLACK):
            return f"the input's audio bitrate is above the asked {want_kbps} kb/s"
    return None


def remux_args(spec: OutputSpec, meta: InputMetadata, src: Path, dst: Path) -> list[str]:
    """The ffmpeg command copying the input's first video (and audio, unless disabled) stream into
    `dst`: the same packets in a new mp4/mov with its index first (`+faststart`)."""
    audio = bool(meta.audio_codec) and spec.audio.enabled
    return [
        FFMPEG,
        *GLOBAL_ARGS,
        *(arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)),
        "-i",
        f"file:{src}",
        "-map",
        "0:v:0",
        *(["-map", "0:a:0"] if audio else []),
        "-c",
        "copy",
        # h265 is copied only from hvc1 input (why_encode); say so, as the encoder's output does.
        *(["-tag:v", "hvc1"] if spec.video and spec.video[0].codec is VideoCodec.h265 else []),
        # No metadata or chapters of the input: an encode writes none either.
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-movflags",
        "+faststart",
        "-f",
        renditions.MUXERS[spec.type],
        f"file:{dst}",
    ]

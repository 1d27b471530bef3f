"""ffprobe and ffmpeg: probing, sizing, command building and output checks. Pure functions plus `probe`.

Inputs are hostile: ffmpeg and ffprobe only ever open the local file the fetch step wrote, with the
protocol whitelist limited to `file`, so a crafted playlist cannot make them read other files or URLs.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recast.models import (
    CONTAINER_AUDIO,
    AudioInfo,
    InputMetadata,
    OutputSpec,
    OutputType,
    Quality,
    VideoCodec,
    VideoVariant,
)

# Demuxers Recast accepts. Playlist-like formats (hls, concat, …) are absent on purpose: they open
# further files named inside the input, and with a `file`-only protocol whitelist those can still be
# other local files — another organization's media, say.
FORMAT_WHITELIST = (
    "mov,matroska,avi,flv,mpegts,mpeg,ogg,wav,mp3,aac,flac,asf,mxf,gif,m4v,h264,hevc,ivf,nut,aiff,caf,dv,"
    "yuv4mpegpipe,w64,image2,png_pipe,jpeg_pipe,webp_pipe"
)
INPUT_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": FORMAT_WHITELIST}

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
# `-progress pipe:1` gives machine-readable progress on stdout; errors only on stderr.
GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]


class MediaError(Exception):
    """A permanent problem with the media itself; `code` becomes the job's or output's error_code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- probe -----------------------------------


async def probe_raw(path: Path) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        FFPROBE,
        "-v",
        "error",
        *(arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)),
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        f"file:{path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        if any("not on whitelist" in line for line in detail):
            raise MediaError(
                "invalid-media",
                "playlists and other inputs that refer to further files are not "
                "accepted; upload the media file itself",
            )
        raise MediaError(
            "invalid-media",
            "the input is not a media file ffprobe can read" + (f": {detail[-1]}" if detail else ""),
        )
    data: dict[str, Any] = json.loads(out or b"{}")
    return data


def _ratio(text: str | None) -> float | None:
    if not text or text in ("0/0", "0"):
        return None
    num, _, den = text.partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(float(side["rotation"])) % 360
    return int(float((stream.get("tags") or {}).get("rotate", 0))) % 360


def first_stream(data: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for stream in data.get("streams", []):
        if stream.get("codec_type") == kind and not (stream.get("disposition") or {}).get("attached_pic"):
            return stream
    return None


def duration_s(data: dict[str, Any]) -> float:
    candidates = [(data.get("format") or {}).get("duration")]
    candidates += [s.get("duration") for s in data.get("streams", [])]
    for value in candidates:
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except ValueError:
            continue
    return 0.0


def input_metadata(data: dict[str, Any], file_size: int) -> InputMetadata:
    """Summarise a probe as the job's `input_metadata`; refuse what no output could be made from."""
    video = first_stream(data, "video")
    audio = first_stream(data, "audio")
    if video is None and audio is None:
        raise MediaError("invalid-media", "the input has no audio or video stream")
    if video is None:
        raise MediaError("no-video-stream", "the input has no video stream; every output needs one")
    width, height = video.get("width"), video.get("height")
    if not width or not height:
        raise MediaError("invalid-media", "the input's video stream has no frame size")
    if _rotation(video) in (90, 270):
        width, height = height, width  # ffmpeg auto-rotates, so outputs follow the displayed shape
    duration = duration_s(data)
    if duration <= 0:
        raise MediaError("invalid-media", "the input has no measurable duration")
    bit_rate = (data.get("format") or {}).get("bit_rate")
    return InputMetadata(
        duration_ms=round(duration * 1000),
        width=int(width),
        height=int(height),
        codec=video.get("codec_name"),
        bitrate_kbps=round(int(bit_rate) / 1000) if bit_rate and str(bit_rate).isdigit() else None,
        framerate=_ratio(video.get("avg_frame_rate")) or _ratio(video.get("r_frame_rate")),
        audio_codec=audio.get("codec_name") if audio else None,
        file_size_bytes=file_size,
    )


# ---------------------------------------------------------------- sizing & commands ------------------------


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def target_size(variant: VideoVariant, width: int, height: int) -> tuple[int, int]:
    """Output frame size: the asked height, never above the input's, aspect kept, both sides even."""
    out_h = min(variant.resolution.height, height) if variant.resolution else height
    if out_h == height:
        return _even(width), _even(height)
    return _even(width * out_h / height), _even(out_h)


# quality → settings, per codec. h264: (x264 preset, CRF); vp9: (cpu-used, CRF).
H264_QUALITY = {
    Quality.economy: ("veryfast", 28),
    Quality.standard: ("veryfast", 23),
    Quality.premium: ("medium", 20),
}
VP9_QUALITY = {Quality.economy: (5, 40), Quality.standard: (4, 33), Quality.premium: (2, 28)}
AUDIO_BITRATE = {"aac": "128k", "opus": "96k"}


@dataclass(frozen=True)
class EncodePlan:
    args: list[str]
    width: int
    height: int
    audio_codec: str | None


def encode_plan(spec: OutputSpec, meta: InputMetadata, src: Path, dst: Path, threads: int = 0) -> EncodePlan:
    """The ffmpeg command for one rendition (built with ffmpeg-python), with what it should produce."""
    variant = spec.video[0]
    assert meta.width and meta.height
    width, height = target_size(variant, meta.width, meta.height)
    inp = ffmpeg.input(f"file:{src}", **INPUT_OPTIONS)
    video = inp.video
    if (width, height) != (meta.width, meta.height):
        video = video.filter("scale", width, height)
    video = video.filter("format", "yuv420p")
    opts: dict[str, Any] = {"threads": threads}
    if variant.codec is VideoCodec.h264:
        preset, crf = H264_QUALITY[variant.quality]
        opts.update({"c:v": "libx264", "preset": preset, "crf": crf, "profile:v": "high"})
    else:
        cpu_used, crf = VP9_QUALITY[variant.quality]
        opts.update(
            {
                "c:v": "libvpx-vp9",
                "crf": crf,
                "b:v": 0,
                "deadline": "good",
                "cpu-used": cpu_used,
                "row-mt": 1,
                "tile-columns": 2,
            }
        )
    if spec.type is OutputType.mp4:
        opts["movflags"] = "+faststart"
    streams = [video]
    audio_codec = CONTAINER_AUDIO[spec.type] if meta.audio_codec else None
    if audio_codec:
        streams.append(inp.audio)
        # Web renditions are stereo: it keeps sizes predictable and sidesteps encoder layout limits.
        opts.update(
            {"c:a": "aac" if audio_codec == "aac" else "libopus", "b:a": AUDIO_BITRATE[audio_codec], "ac": 2}
        )
    out = ffmpeg.output(*streams, f"file:{dst}", format=spec.type.value, **opts)
    return EncodePlan([FFMPEG, *GLOBAL_ARGS, *out.get_args()], width, height, audio_codec)


# ---------------------------------------------------------------- verification ----------------------------


FFPROBE_CODEC = {VideoCodec.h264: "h264", VideoCodec.vp9: "vp9"}


def duration_tolerance_s(duration: float) -> float:
    return max(0.25, duration * 0.02)


def check_output(data: dict[str, Any], spec: OutputSpec, plan: EncodePlan, meta: InputMetadata) -> None:
    """Refuse an output that is not what was asked: wrong codec, size, missing stream, short duration."""
    video = first_stream(data, "video")
    if video is None:
        raise MediaError("output-mismatch", "the encoded file has no video stream")
    want_codec = FFPROBE_CODEC[spec.video[0].codec]
    if video.get("codec_name") != want_codec:
        raise MediaError("output-mismatch", f"expected {want_codec} video, got {video.get('codec_name')}")
    if (video.get("width"), video.get("height")) != (plan.width, plan.height):
        raise MediaError(
            "output-mismatch",
            f"expected {plan.width}x{plan.height}, got {video.get('width')}x{video.get('height')}",
        )
    if plan.audio_codec:
        audio = first_stream(data, "audio")
        if audio is None or audio.get("codec_name") != plan.audio_codec:
            got = audio.get("codec_name") if audio else "no audio"
            raise MediaError("output-mismatch", f"expected {plan.audio_codec} audio, got {got}")
    want, got = meta.duration_ms / 1000, duration_s(data)
    if abs(got - want) > duration_tolerance_s(want):
        raise MediaError("output-mismatch", f"output lasts {got:.2f}s but the input lasts {want:.2f}s")


def audio_info(data: dict[str, Any]) -> AudioInfo | None:
    audio = first_stream(data, "audio")
    if audio is None:
        return None
    bit_rate = audio.get("bit_rate")
    return AudioInfo(
        codec=audio.get("codec_name", "unknown"),
        bitrate_kbps=round(int(bit_rate) / 1000) if bit_rate and str(bit_rate).isdigit() else None,
        channels=audio.get("channels"),
        sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
    )

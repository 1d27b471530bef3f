"""Probing an input with ffprobe: its metadata, what kind it is, and whether it decodes at all."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from recast.core.formats import InputKind
from recast.core.job import InputMetadata
from recast.media.tools import FFMPEG, FFPROBE, INPUT_OPTIONS, MediaError


async def ffprobe_json(*args: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Run ffprobe with JSON output: (the parsed JSON, or None when ffprobe failed; stderr's lines)."""
    proc = await asyncio.create_subprocess_exec(
        FFPROBE,
        "-v",
        "error",
        "-print_format",
        "json",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    lines = err.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0:
        return None, lines
    data: dict[str, Any] = json.loads(out or b"{}")
    return data, lines


def probe_args(url: str) -> list[str]:
    """ffprobe's arguments (after the output options) for what `probe_raw` reports about `url`."""
    return [
        *(arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)),
        # Decode the first packet too (nb_read_frames): usually proof the main stream decodes, at no
        # extra process start (see first_frame_decoded).
        "-count_frames",
        "-read_intervals",
        "%+#1",
        "-show_format",
        "-show_streams",
        # That first frame's tags too: a JPEG's EXIF orientation is there and nowhere else.
        "-show_frames",
        url,
    ]


async def probe_raw(path: Path) -> dict[str, Any]:
    data, detail = await ffprobe_json(*probe_args(f"file:{path}"))
    if data is None:
        if any("not on whitelist" in line for line in detail):
            raise MediaError(
                "invalid-media",
                "this input format is not accepted (playlists and other inputs that refer to further "
                "files never are; images are JPEG, PNG, WebP or GIF): upload the media file itself",
            )
        raise MediaError(
            "invalid-media",
            "the input is not a media file ffprobe can read" + (f": {detail[-1]}" if detail else ""),
        )
    return data


def frame_ratio(text: str | None) -> float | None:
    if not text or text in ("0/0", "0"):
        return None
    num, _, den = text.partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def _exif_orientation(data: dict[str, Any], video: dict[str, Any]) -> int | None:
    """The EXIF orientation (2–8) of the picture's first frame; None when upright or unknown.

    ffmpeg turns the picture upright when it decodes it (as it does with a video's rotation), so
    outputs are sized from the displayed shape."""
    for frame in data.get("frames", []):
        if frame.get("stream_index") == video.get("index"):
            value = str((frame.get("tags") or {}).get("Orientation", "")).strip()
            return int(value) if value.isdigit() and 2 <= int(value) <= 8 else None
    return None


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


# A still image: one of these demuxers (image2 picks by extension, the *_pipe ones by content) with one of
# these codecs. A GIF of several frames is a video (it lasts, and makes an mp4); its first frame is
# what an image output of it takes by default.
IMAGE_DEMUXERS = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif"})
IMAGE_CODECS = frozenset({"png", "mjpeg", "webp", "gif"})


def _still_image(data: dict[str, Any], video: dict[str, Any] | None, audio: dict[str, Any] | None) -> bool:
    """Is the input a still picture? Refuses image formats Recast does not take (bmp, tiff, …)."""
    demuxers = set(((data.get("format") or {}).get("format_name") or "").split(","))
    if video is None or audio is not None or not demuxers & IMAGE_DEMUXERS:
        return False
    if video.get("codec_name") not in IMAGE_CODECS:
        raise MediaError(
            "unsupported-codec",
            f"image inputs are JPEG, PNG, WebP or GIF, not {video.get('codec_name') or 'this format'}",
        )
    frames = str(video.get("nb_frames") or "")
    return video.get("codec_name") != "gif" or not (frames.isdigit() and int(frames) > 1)


def input_metadata(data: dict[str, Any], file_size: int) -> InputMetadata:
    """Summarise a probe as the job's `input_metadata`; refuse what no output could be made from."""
    video = first_stream(data, "video")
    audio = first_stream(data, "audio")
    if video is None and audio is None:
        raise MediaError("invalid-media", "the input has no audio or video stream")
    if _still_image(data, video, audio):
        assert video is not None
        width, height = video.get("width"), video.get("height")
        if not width or not height:
            raise MediaError("invalid-media", "the image has no size")
        orientation = _exif_orientation(data, video)
        if orientation and orientation >= 5:
            width, height = height, width  # turned a quarter: outputs follow the displayed shape
        return InputMetadata(
            kind=InputKind.image,
            duration_ms=0,  # a picture does not last: video and audio outputs of it fail (image-input)
            width=int(width),
            height=int(height),
            orientation=orientation,
            codec=video.get("codec_name"),
            file_size_bytes=file_size,
        )
    for stream in (video, audio):
        if stream is not None and not stream.get("codec_name"):
            kind, tag = stream.get("codec_type"), stream.get("codec_tag_string", "?")
            raise MediaError(
                "unsupported-codec", f"the input's {kind} codec ({tag}) is not one ffmpeg can decode"
            )
    # An audio-only input is fine for audio outputs; its video outputs fail with `no-video-stream`.
    width = height = None
    if video is not None:
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
        kind=InputKind.video if video is not None else InputKind.audio,
        duration_ms=round(duration * 1000),
        width=int(width) if width else None,
        height=int(height) if height else None,
        codec=video.get("codec_name") if video else None,
        bitrate_kbps=round(int(bit_rate) / 1000) if bit_rate and str(bit_rate).isdigit() else None,
        framerate=(frame_ratio(video.get("avg_frame_rate")) or frame_ratio(video.get("r_frame_rate")))
        if video
        else None,
        audio_codec=audio.get("codec_name") if audio else None,
        file_size_bytes=file_size,
    )


def first_frame_decoded(data: dict[str, Any]) -> bool:
    """Did the probe's one-packet decode give a frame of the main stream (first video, else audio)?
    False is not a verdict (the first packet may belong to another stream): run decode_check then."""
    main = first_stream(data, "video") or first_stream(data, "audio")
    read = str((main or {}).get("nb_read_frames", ""))
    return read.isdigit() and int(read) >= 1


async def decode_check(path: Path, seconds: float = 1.0) -> None:
    """Decode the input's first second: ffprobe reading the container does not prove the streams decode.

    A decoder ffmpeg lacks → `unsupported-codec`; ffmpeg failing, or not one frame of the main stream
    (the first video stream, else the first audio stream: output stream 0 of the optional maps below)
    coming out → `corrupt-input`. Decode errors that ffmpeg conceals (a capture starting mid-GOP, say)
    are tolerated. A second ffmpeg start (~0.1 s), so the probe runs it only when its own one-packet
    decode did not already prove the main stream.
    """
    proc = await asyncio.create_subprocess_exec(
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        *(arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)),
        # One thread: a single-frame decode is done before frame threads would even be filled.
        "-threads",
        "1",
        "-i",
        f"file:{path}",
        "-t",
        str(seconds),
        # The first video frame proves the video decodes; more only costs time on the probe's path.
        "-frames:v",
        "1",
        "-map",
        "0:v:0?",
        "-map",
        "0:a:0?",
        "-f",
        "framecrc",
        "-",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    lines = err.decode(errors="replace").strip().splitlines()
    text = "\n".join(lines)
    if proc.returncode != 0 and (("Decoder" in text and "not found" in text) or "Unknown decoder" in text):
        raise MediaError("unsupported-codec", "the input uses a codec ffmpeg cannot decode")
    # framecrc lines: "stream_index, dts, pts, duration, size, checksum"; stream 0 is the main stream.
    frames = sum(1 for line in out.decode(errors="replace").splitlines() if line.startswith("0,"))
    if proc.returncode != 0 or frames == 0:
        raise MediaError(
            "corrupt-input",
            "the input's streams cannot be decoded" + (f": {lines[-1][:200]}" if lines else ""),
        )

"""Single-file renditions (mp4/webm/mkv/mov video, audio files): sizing, the ffmpeg command built with
ffmpeg-python, the streams of a clip or a join, and the check a finished file must pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ffmpeg

from recast.core import timeline
from recast.core.background import RgbColor
from recast.core.formats import AudioCodec, Fit, OutputType, Quality, VideoCodec
from recast.core.job import AudioInfo, InputMetadata
from recast.core.requests import Clip
from recast.core.specs import OutputSpec, VideoVariant, target_size
from recast.media import background, watermark
from recast.media.probe import duration_s, first_stream, frame_ratio
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS, MediaError

if TYPE_CHECKING:  # loudness builds its measuring pass from source_streams below
    from recast.media.caption_tracks import CaptionPlan
    from recast.media.loudness import LoudnessPlan

# quality → settings, per codec. h264/h265: (preset, CRF); vp9: (cpu-used, CRF); av1: (SVT preset, CRF).
H264_QUALITY = {
    Quality.economy: ("veryfast", 28),
    Quality.standard: ("veryfast", 23),
    Quality.premium: ("medium", 20),
}
H265_QUALITY = {
    Quality.economy: ("veryfast", 30),
    Quality.standard: ("veryfast", 26),
    Quality.premium: ("medium", 23),
}
VP9_QUALITY = {Quality.economy: (5, 40), Quality.standard: (4, 33), Quality.premium: (2, 28)}
AV1_QUALITY = {Quality.economy: (10, 40), Quality.standard: (8, 35), Quality.premium: (6, 30)}

MUXERS: dict[OutputType, str] = {
    OutputType.mp4: "mp4",
    OutputType.webm: "webm",
    OutputType.mkv: "matroska",
    OutputType.mov: "mov",
    OutputType.mp3: "mp3",
    OutputType.m4a: "ipod",
    OutputType.opus: "opus",
    OutputType.wav: "wav",
    OutputType.flac: "flac",
}
# What ffprobe's format_name contains for each output type.
PROBED_FORMATS: dict[OutputType, str] = {
    OutputType.mp4: "mp4",
    OutputType.webm: "webm",
    OutputType.mkv: "matroska",
    OutputType.mov: "mov",
    OutputType.mp3: "mp3",
    OutputType.m4a: "m4a",
    OutputType.opus: "ogg",
    OutputType.wav: "wav",
    OutputType.flac: "flac",
}
AUDIO_ENCODERS: dict[AudioCodec, str] = {
    AudioCodec.aac: "aac",
    AudioCodec.opus: "libopus",
    AudioCodec.mp3: "libmp3lame",
    AudioCodec.flac: "flac",
    AudioCodec.pcm_s16le: "pcm_s16le",
}


@dataclass(frozen=True)
class EncodePlan:
    args: list[str]
    width: int | None
    height: int | None
    audio_codec: str | None
    audio_channels: int | None = None
    sample_rate: int | None = None
    framerate: float | None = None  # set only when the frame rate is changed
    # What the output must last (timeline.output_duration_s); None: the whole input.
    duration_s: float | None = None


def _video_options(spec: OutputSpec, variant: VideoVariant) -> dict[str, Any]:
    kbps = variant.bitrate
    if variant.codec in (VideoCodec.h264, VideoCodec.h265):
        h264 = variant.codec is VideoCodec.h264
        preset, crf = (H264_QUALITY if h264 else H265_QUALITY)[variant.quality]
        opts: dict[str, Any] = {
            "c:v": "libx264" if h264 else "libx265",
            "preset": variant.preset.value if variant.preset else preset,
        }
        opts.update({"b:v": f"{kbps}k"} if kbps else {"crf": crf})
        if h264:
            opts["profile:v"] = variant.profile.value if variant.profile else "high"
        else:
            opts["x265-params"] = "log-level=error"
            if variant.profile:
                opts["profile:v"] = variant.profile.value
            if spec.type in (OutputType.mp4, OutputType.mov):
                opts["tag:v"] = "hvc1"  # Apple players refuse the default hev1 tag
        return opts
    if variant.codec is VideoCodec.vp9:
        cpu_used, crf = VP9_QUALITY[variant.quality]
        opts = {"c:v": "libvpx-vp9", "deadline": "good", "cpu-used": cpu_used, "row-mt": 1, "tile-columns": 2}
        opts.update({"b:v": f"{kbps}k"} if kbps else {"crf": crf, "b:v": 0})
        return opts
    svt_preset, crf = AV1_QUALITY[variant.quality]
    opts = {"c:v": "libsvtav1", "preset": svt_preset}
    opts.update({"b:v": f"{kbps}k"} if kbps else {"crf": crf})
    return opts


# SVT-AV1 (Debian's AV1 encoder) refuses frames under 64 px on either side; the others take any size.
MIN_FRAME = {VideoCodec.av1: 64}


def check_encoder_size(codec: VideoCodec, width: int, height: int) -> None:
    """A frame the codec's encoder cannot make fails its output at once (never retried), saying why."""
    least = MIN_FRAME.get(codec, 0)
    if width < least or height < least:
        raise MediaError(
            "frame-too-small",
            f"{codec.value} needs a frame of at least {least}x{least} px; this output's would be "
            f"{width}x{height} (the input is not upscaled): choose another codec",
        )


def encode_plan(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    dst: Path,
    threads: int = 0,
    *,
    parts: Sequence[tuple[Path, InputMetadata]] = (),
    clip: Clip | None = None,
    key_color: RgbColor | None = None,
    loudness: LoudnessPlan | None = None,
    captions: CaptionPlan | None = None,
    watermark_image: Path | None = None,
) -> EncodePlan:
    """The ffmpeg command for one output (built with ffmpeg-python), with what it should produce.

    `parts`: a join's inputs in order (then `meta` is their joined view); `clip`: a resolved clip of
    the input, or of the joined timeline; `key_color`: with `spec.background`, the colour keyed out;
    `loudness`, `captions`: the output's finishing (see recast/media/loudness.py and caption_tracks.py);
    `watermark_image`: the local file of `spec.watermark`.
    """
    joined = len(parts) > 1
    opts: dict[str, Any] = {"threads": threads}
    width = height = None
    framerate = None
    video_size: tuple[int, int] | None = None
    fit = Fit.contain
    if not spec.type.is_audio:
        metas = [m for _, m in parts] if joined else [meta]
        for i, m in enumerate(metas):
            if not (m.width and m.height):
                which = f"inputs[{i}] has" if joined else "the input has"
                raise MediaError(
                    "no-video-stream", f"{which} no video stream; a {spec.type.value} output needs one"
                )
        assert meta.width and meta.height
        variant = spec.video[0]
        width, height = video_size = target_size(variant, meta.width, meta.height)
        check_encoder_size(variant.codec, width, height)
        fit = variant.fit
        if joined:
            # Every piece is converted to one rate, so the check holds the output to it.
            framerate = timeline.join_framerate(metas)
            if variant.framerate and variant.framerate < framerate:
                framerate = variant.framerate
        elif variant.framerate and (meta.framerate is None or variant.framerate < meta.framerate):
            framerate = variant.framerate  # never raised: duplicated frames add bytes, not motion
        opts.update(_video_options(spec, variant))
    if spec.type in (OutputType.mp4, OutputType.mov, OutputType.m4a):
        opts["movflags"] = "+faststart"
    audio_codec = channels = sample_rate = None
    if meta.audio_codec and spec.audio.enabled:
        codec = spec.audio_codec
        audio_codec, channels, sample_rate = codec.value, spec.audio.channels, spec.sample_rate
        opts.update({"c:a": AUDIO_ENCODERS[codec], "ac": channels, "ar": sample_rate})
        if spec.audio_bitrate_kbps:
            opts["b:a"] = f"{spec.audio_bitrate_kbps}k"
    elif spec.type.is_audio:
        raise MediaError(
            "no-audio-stream", f"the input has no audio stream; a {spec.type.value} output needs one"
        )
    audio_format = (sample_rate, channels) if sample_rate and channels else None
    video, audio = source_streams(src, meta, parts, clip, video_size, framerate, audio_format, fit)
    if loudness is not None and audio is not None:
        audio = loudness.apply(audio)
    if captions is not None and video is not None:
        video = captions.burn(video)
    if video is not None and spec.watermark is not None and watermark_image is not None and width:
        # Over the sized picture (and burned-in captions), before any keying: a watermark stays opaque.
        [mark] = watermark.image_streams(watermark_image, 1)
        video = watermark.overlay(video, mark, spec.watermark, width).filter("format", "yuv420p")
    if spec.background is not None and video is not None and height is not None:
        if key_color is None:
            raise MediaError("invalid-input", "background removal needs the colour to key out")
        video = background.keyed(video, spec.background, key_color)
        height = background.frame_height(spec.background, height)
    streams = [s for s in (video, audio) if s is not None]
    if captions is not None:
        caption_streams, caption_opts = captions.track_streams(spec, len(streams))
        streams += caption_streams
        opts.update(caption_opts)
    if spec.type is OutputType.mp3:
        opts["write_xing"] = 1  # a Xing header gives ffprobe an exact duration
    out = ffmpeg.output(*streams, f"file:{dst}", format=MUXERS[spec.type], **opts)
    return EncodePlan(
        [FFMPEG, *GLOBAL_ARGS, *out.get_args()],
        width,
        height,
        audio_codec,
        channels,
        sample_rate,
        framerate,
        timeline.output_duration_s(meta.duration_ms, clip),
    )


def source_streams(
    src: Path,
    meta: InputMetadata,
    parts: Sequence[tuple[Path, InputMetadata]],
    clip: Clip | None,
    size: tuple[int, int] | None,
    framerate: float | None,
    audio_format: tuple[int, int] | None,
    fit: Fit = Fit.contain,
) -> tuple[Any, Any]:
    """The (video, audio) ffmpeg-python streams an output is made from: the input, or a join of
    `parts`, cut to `clip`, at `size` (None: no video) and `framerate` (None: the input's), its audio
    as (sample rate, channels) (None: no audio); `fit` says how a picture of another shape meets
    `size` (see VideoVariant.fit). Every output builder starts here, so trim and join apply to every
    kind of output alike."""
    if len(parts) > 1:
        return _joined_streams(parts, clip, size, framerate, audio_format, fit)
    return _single_streams(src, meta, clip, size, framerate, audio_format, fit)


def fitted(video: Any, size: tuple[int, int], fit: Fit) -> Any:
    """`video` at exactly `size`: scaled to fill it and the overflow cropped (centred) for `cover`,
    else scaled to fit inside and centred on black bars. Square pixels either way."""
    w, h = size
    if fit is Fit.cover:
        video = video.filter("scale", w, h, force_original_aspect_ratio="increase", force_divisible_by=2)
        video = video.filter("crop", w, h)
    else:
        video = video.filter("scale", w, h, force_original_aspect_ratio="decrease", force_divisible_by=2)
        video = video.filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2")
    return video.filter("setsar", 1)


def _seek(clip: Clip | None) -> dict[str, Any]:
    """Input options cutting a clip: `-ss` before `-i` seeks (accurately: ffmpeg decodes from the
    keyframe before and drops what precedes the start) instead of decoding everything before it."""
    if clip is None:
        return {}
    opts: dict[str, Any] = {"ss": f"{clip.start:.6f}"} if clip.start > 0 else {}
    if clip.end is not None:
        opts["t"] = f"{clip.end - clip.start:.6f}"
    return opts


def _single_streams(
    src: Path,
    meta: InputMetadata,
    clip: Clip | None,
    size: tuple[int, int] | None,
    framerate: float | None,
    audio_format: tuple[int, int] | None,
    fit: Fit = Fit.contain,
) -> tuple[Any, Any]:
    """(video, audio) streams of one input, clipped; None where the output has no such stream."""
    inp = ffmpeg.input(f"file:{src}", **_seek(clip), **INPUT_OPTIONS)
    video = None
    if size is not None:
        video = inp.video
        if fit is not Fit.contain:
            video = fitted(video, size, fit)  # the box's shape, not the input's
        elif size != (meta.width, meta.height):
            video = video.filter("scale", *size)
        if framerate:
            video = video.filter("fps", fps=framerate)
        video = video.filter("format", "yuv420p")
    return video, inp.audio if audio_format else None


def _joined_streams(
    parts: Sequence[tuple[Path, InputMetadata]],
    clip: Clip | None,
    size: tuple[int, int] | None,
    framerate: float | None,
    audio_format: tuple[int, int] | None,
    fit: Fit = Fit.contain,
) -> tuple[Any, Any]:
    """(video, audio) of a join: each input's piece of the clip normalized to one frame size (fitted,
    aspect kept, padded — or cropped to fill it with `fit: cover`), one frame rate and square pixels,
    its audio to one sample rate and layout (silence for an input without audio), then the concat
    *filter* — the concat demuxer would read a playlist naming files, which the format whitelist
    refuses on purpose."""
    segments: list[Any] = []
    for n, piece in enumerate(timeline.pieces([m for _, m in parts], clip)):
        path, meta = parts[piece.input_index]
        # ffmpeg-python merges inputs whose options are equal (the same file joined twice, two equal
        # stretches of silence) into one node with two consumers, which ffmpeg refuses; a harmless
        # per-piece queue size (the default is 8) keeps every piece its own input.
        seek: dict[str, Any] = {"t": f"{piece.duration:.6f}", "thread_queue_size": 8 + n}
        if piece.start > 0:
            seek["ss"] = f"{piece.start:.6f}"
        inp = ffmpeg.input(f"file:{path}", **seek, **INPUT_OPTIONS)
        if size is not None:
            piece_video = fitted(inp.video, size, Fit.cover if fit is Fit.cover else Fit.pad)
            segments.append(piece_video.filter("fps", fps=framerate).filter("setpts", "PTS-STARTPTS"))
        if audio_format is not None:
            rate, channels = audio_format
            layout = "mono" if channels == 1 else "stereo"
            if meta.audio_codec:
                sound = inp.audio.filter("aformat", sample_rates=rate, channel_layouts=layout)
            else:
                # A generated source, not a file: the whitelists guard what inputs may open.
                silence = f"anullsrc=channel_layout={layout}:sample_rate={rate}"
                sound = ffmpeg.input(
                    silence, format="lavfi", t=seek["t"], thread_queue_size=seek["thread_queue_size"]
                ).audio
            segments.append(sound.filter("asetpts", "PTS-STARTPTS"))
    has_video, has_audio = int(size is not None), int(audio_format is not None)
    node = ffmpeg.concat(*segments, v=has_video, a=has_audio).node
    video = node[0].filter("format", "yuv420p") if has_video else None
    audio = node[has_video] if has_audio else None
    return video, audio


FFPROBE_CODEC = {
    VideoCodec.h264: "h264",
    VideoCodec.h265: "hevc",
    VideoCodec.vp9: "vp9",
    VideoCodec.av1: "av1",
}


def duration_tolerance_s(duration: float) -> float:
    return max(0.25, duration * 0.02)


def check_output(data: dict[str, Any], spec: OutputSpec, plan: EncodePlan, meta: InputMetadata) -> None:
    """Refuse an output that is not what was asked: wrong container, codec, size, audio, duration."""
    video = first_stream(data, "video")
    if spec.type.is_audio:
        if video is not None:
            raise MediaError("output-mismatch", "the audio-only output has a video stream")
    else:
        if video is None:
            raise MediaError("output-mismatch", "the encoded file has no video stream")
        codec = spec.video[0].codec
        want_codec = FFPROBE_CODEC[codec]
        if video.get("codec_name") != want_codec:
            raise MediaError("output-mismatch", f"expected {want_codec} video, got {video.get('codec_name')}")
        if codec is VideoCodec.h265 and spec.type in (OutputType.mp4, OutputType.mov):
            if video.get("codec_tag_string") != "hvc1":
                raise MediaError("output-mismatch", f"expected hvc1 tag, got {video.get('codec_tag_string')}")
        if (video.get("width"), video.get("height")) != (plan.width, plan.height):
            raise MediaError(
                "output-mismatch",
                f"expected {plan.width}x{plan.height}, got {video.get('width')}x{video.get('height')}",
            )
        if plan.framerate:
            got_fps = frame_ratio(video.get("avg_frame_rate")) or frame_ratio(video.get("r_frame_rate")) or 0
            if abs(got_fps - plan.framerate) > max(0.5, plan.framerate * 0.05):
                raise MediaError("output-mismatch", f"expected {plan.framerate:g} fps, got {got_fps:g}")
    want = plan.duration_s if plan.duration_s is not None else meta.duration_ms / 1000
    got = duration_s(data)
    if abs(got - want) > duration_tolerance_s(want):
        raise MediaError("output-mismatch", f"output lasts {got:.2f}s but should last {want:.2f}s")
    if plan.audio_codec:
        audio = first_stream(data, "audio")
        if audio is None or audio.get("codec_name") != plan.audio_codec:
            found = audio.get("codec_name") if audio else "no audio"
            raise MediaError("output-mismatch", f"expected {plan.audio_codec} audio, got {found}")
        if plan.audio_channels and audio.get("channels") != plan.audio_channels:
            raise MediaError(
                "output-mismatch",
                f"expected {plan.audio_channels} audio channels, got {audio.get('channels')}",
            )
        if plan.sample_rate and int(audio.get("sample_rate") or 0) != plan.sample_rate:
            raise MediaError(
                "output-mismatch", f"expected {plan.sample_rate} Hz audio, got {audio.get('sample_rate')}"
            )
    fmt = (data.get("format") or {}).get("format_name", "")
    if PROBED_FORMATS[spec.type] not in fmt.split(","):
        raise MediaError("output-mismatch", f"expected a {spec.type.value} file, got {fmt or 'unknown'}")


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

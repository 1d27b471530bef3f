"""Output formats and their tables: types, codecs, resolutions, qualities, and which
container carries what. Pure data; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from enum import StrEnum


class OutputType(StrEnum):
    mp4 = "mp4"
    webm = "webm"
    mkv = "mkv"
    mov = "mov"
    mp3 = "mp3"
    m4a = "m4a"
    opus = "opus"
    wav = "wav"
    flac = "flac"
    hls = "hls"
    dash = "dash"
    jpg = "jpg"
    png = "png"
    webp = "webp"
    avif = "avif"
    thumbnails = "thumbnails"
    gif = "gif"  # an animated preview (recast/core/previews.py, AnimationSpec)
    waveform = "waveform"  # a PNG of the audio's amplitude and a JSON of its peaks (WaveformSpec)

    @property
    def is_audio(self) -> bool:
        """An audio-only output: no video variant, only an audio track."""
        return self in AUDIO_TYPES

    @property
    def is_stream(self) -> bool:
        """An adaptive-streaming package: a ladder of 1–20 video variants, segmented, with a manifest."""
        return self in STREAM_TYPES

    @property
    def is_image(self) -> bool:
        """A single still image: an image input optimized, or one frame (a poster) of a video."""
        return self in IMAGE_TYPES

    @property
    def is_visual(self) -> bool:
        """Made from pictures only (an image, a set of thumbnails, a GIF): no audio track, no video variant."""
        return self in IMAGE_TYPES or self in (OutputType.thumbnails, OutputType.gif)


AUDIO_TYPES = frozenset({OutputType.mp3, OutputType.m4a, OutputType.opus, OutputType.wav, OutputType.flac})
STREAM_TYPES = frozenset({OutputType.hls, OutputType.dash})
IMAGE_TYPES = frozenset({OutputType.jpg, OutputType.png, OutputType.webp, OutputType.avif})
MAX_RUNGS = 20
# The manifest of a streaming package, at the top of its folder: what its download URL points to.
STREAM_ENTRY = {OutputType.hls: "master.m3u8", OutputType.dash: "manifest.mpd"}
# Output types whose result is a folder of files (a streaming package, a set of thumbnails) rather than
# one file: stored under output_prefix(), downloaded through one token that grants the whole folder.
FOLDER_TYPES: frozenset[OutputType] = frozenset({*STREAM_TYPES, OutputType.thumbnails, OutputType.waveform})
# Output types that carry a video track a watermark can go on (hls/dash: every rung).
WATERMARK_TYPES = frozenset({OutputType.mp4, OutputType.webm, OutputType.mkv, OutputType.mov, *STREAM_TYPES})
# Output types that can be an animated preview (`animation`): gif always, webp when asked.
ANIMATED_TYPES = frozenset({OutputType.gif, OutputType.webp})


class VideoCodec(StrEnum):
    h264 = "h264"
    h265 = "h265"
    vp9 = "vp9"
    av1 = "av1"


class AudioCodec(StrEnum):
    aac = "aac"
    opus = "opus"
    mp3 = "mp3"
    flac = "flac"
    pcm_s16le = "pcm_s16le"

    @property
    def lossless(self) -> bool:
        return self in (AudioCodec.flac, AudioCodec.pcm_s16le)


class Resolution(StrEnum):
    p480 = "480p"
    p720 = "720p"
    p1080 = "1080p"
    p1440 = "1440p"
    p2160 = "2160p"

    @property
    def height(self) -> int:
        return int(self.value[:-1])


class Quality(StrEnum):
    economy = "economy"
    standard = "standard"
    premium = "premium"


class Preset(StrEnum):
    """x264/x265 speed presets: slower is smaller at the same quality."""

    ultrafast = "ultrafast"
    superfast = "superfast"
    veryfast = "veryfast"
    faster = "faster"
    fast = "fast"
    medium = "medium"
    slow = "slow"
    slower = "slower"


class Fit(StrEnum):
    """How a frame meets a `width` × `height` box of another shape."""

    contain = "contain"  # fitted inside the box, aspect kept: the frame may be smaller on one side
    cover = "cover"  # scaled to fill the box, the overflow cropped (centred): the box's exact shape
    pad = "pad"  # fitted inside the box and letterboxed (black bars): the box's exact shape


class Profile(StrEnum):
    baseline = "baseline"
    main = "main"
    high = "high"


# Which video codecs each container may carry.
CONTAINER_CODECS: dict[OutputType, tuple[VideoCodec, ...]] = {
    OutputType.mp4: (VideoCodec.h264, VideoCodec.h265, VideoCodec.vp9, VideoCodec.av1),
    OutputType.webm: (VideoCodec.vp9, VideoCodec.av1),
    OutputType.mkv: (VideoCodec.h264, VideoCodec.h265, VideoCodec.vp9, VideoCodec.av1),
    OutputType.mov: (VideoCodec.h264, VideoCodec.h265),
    # What ffmpeg 5.1's muxers describe fully: its hls muxer writes no CODECS string for VP9/AV1, and
    # its dash muxer writes a bare "hvc1" for H.265, which players cannot match against.
    OutputType.hls: (VideoCodec.h264, VideoCodec.h265),
    OutputType.dash: (VideoCodec.h264, VideoCodec.vp9, VideoCodec.av1),
}
# Which audio codecs each output type may carry; the first is the default.
CONTAINER_AUDIO_CODECS: dict[OutputType, tuple[AudioCodec, ...]] = {
    OutputType.mp4: (AudioCodec.aac,),
    OutputType.mov: (AudioCodec.aac,),
    OutputType.webm: (AudioCodec.opus,),
    OutputType.mkv: (AudioCodec.opus, AudioCodec.aac, AudioCodec.flac),
    OutputType.mp3: (AudioCodec.mp3,),
    OutputType.m4a: (AudioCodec.aac,),
    OutputType.opus: (AudioCodec.opus,),
    OutputType.wav: (AudioCodec.pcm_s16le,),
    OutputType.flac: (AudioCodec.flac,),
    OutputType.hls: (AudioCodec.aac,),
    OutputType.dash: (AudioCodec.aac,),
}
CONTAINER_AUDIO: dict[OutputType, str] = {t: codecs[0].value for t, codecs in CONTAINER_AUDIO_CODECS.items()}
CONTENT_TYPES: dict[OutputType, str] = {
    OutputType.mp4: "video/mp4",
    OutputType.webm: "video/webm",
    OutputType.mkv: "video/x-matroska",
    OutputType.mov: "video/quicktime",
    OutputType.mp3: "audio/mpeg",
    OutputType.m4a: "audio/mp4",
    OutputType.opus: "audio/ogg",
    OutputType.wav: "audio/wav",
    OutputType.flac: "audio/flac",
    # A package is a folder; its download points at the manifest, so that is its content type.
    OutputType.hls: "application/vnd.apple.mpegurl",
    OutputType.dash: "application/dash+xml",
    OutputType.jpg: "image/jpeg",
    OutputType.png: "image/png",
    OutputType.webp: "image/webp",
    OutputType.avif: "image/avif",
    # A thumbnails folder's entry is its first image, or the WebVTT index of its sprite: set when done.
    OutputType.thumbnails: "image/jpeg",
    OutputType.gif: "image/gif",
    # A waveform folder's entry is its PNG (waveform.json beside it).
    OutputType.waveform: "image/png",
}
# Profiles each codec accepts (`profile`, like `preset`, is only for h264/h265).
CODEC_PROFILES: dict[VideoCodec, tuple[Profile, ...]] = {
    VideoCodec.h264: (Profile.baseline, Profile.main, Profile.high),
    VideoCodec.h265: (Profile.main,),
}
SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_SAMPLE_RATES = (8000, 16000, 24000, 48000)


AUDIO_BITRATE_KBPS: dict[AudioCodec, int] = {AudioCodec.aac: 128, AudioCodec.opus: 96, AudioCodec.mp3: 192}


class InputKind(StrEnum):
    """What the input is: a video (possibly with audio), audio only, or a still image."""

    video = "video"
    audio = "audio"
    image = "image"


class ImageFormat(StrEnum):
    """Formats a thumbnail set can be made in."""

    jpg = "jpg"
    png = "png"
    webp = "webp"


IMAGE_MAX_SIDE = 8192
THUMBNAILS_MAX_IMAGES = 100
THUMBNAILS_MAX_SPECS = 5
# libwebp refuses pictures wider or taller than this; a WebP sprite must fit.
WEBP_MAX_SIDE = 16383

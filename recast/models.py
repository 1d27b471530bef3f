"""The job's shape: one set of pydantic models used as REST schema, workflow payload and activity I/O.

Everything here must stay importable inside Temporal's workflow sandbox: no I/O, only pydantic.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recast import presets


class Strict(BaseModel):
    """Request models refuse unknown fields, so a typo is a 400 and not a silently ignored option."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- request ---------------------------------


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
        """Made from pictures only (an image, a set of thumbnails): no audio track, no video variant."""
        return self in IMAGE_TYPES or self is OutputType.thumbnails


AUDIO_TYPES = frozenset({OutputType.mp3, OutputType.m4a, OutputType.opus, OutputType.wav, OutputType.flac})
STREAM_TYPES = frozenset({OutputType.hls, OutputType.dash})
IMAGE_TYPES = frozenset({OutputType.jpg, OutputType.png, OutputType.webp, OutputType.avif})
MAX_RUNGS = 20
# The manifest of a streaming package, at the top of its folder: what its download URL points to.
STREAM_ENTRY = {OutputType.hls: "master.m3u8", OutputType.dash: "manifest.mpd"}
# Output types whose result is a folder of files (a streaming package, a set of thumbnails) rather than
# one file: stored under output_prefix(), downloaded through one token that grants the whole folder.
FOLDER_TYPES: frozenset[OutputType] = frozenset({*STREAM_TYPES, OutputType.thumbnails})


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
}
# Profiles each codec accepts (`profile`, like `preset`, is only for h264/h265).
CODEC_PROFILES: dict[VideoCodec, tuple[Profile, ...]] = {
    VideoCodec.h264: (Profile.baseline, Profile.main, Profile.high),
    VideoCodec.h265: (Profile.main,),
}
SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_SAMPLE_RATES = (8000, 16000, 24000, 48000)


class VideoVariant(Strict):
    codec: VideoCodec
    resolution: Resolution | None = Field(
        default=None, description="Target height; never upscaled. Omit to keep the input's size."
    )
    width: int | None = Field(
        default=None, ge=128, le=7680, description="Target width (aspect kept; with height: fit inside)."
    )
    height: int | None = Field(
        default=None, ge=128, le=4320, description="Target height (aspect kept; with width: fit inside)."
    )
    framerate: float = Field(
        default=0, ge=0, le=120, description="Frames per second (1–120); 0 keeps the input's."
    )
    bitrate: int | None = Field(
        default=None,
        ge=100,
        le=240000,
        description="Target video bitrate in kb/s: replaces the quality's CRF (quality still sets the "
        "encoder preset and the price).",
    )
    fit: Fit = Field(
        default=Fit.contain,
        description="With width and height: `contain` fits the frame inside the box (default), `cover` "
        "crops it to fill the box, `pad` letterboxes it; cover and pad give the box's shape.",
    )
    quality: Quality = Quality.standard
    preset: Preset | None = Field(default=None, description="h264/h265 only: encoder speed preset.")
    profile: Profile | None = Field(default=None, description="h264/h265 only: codec profile.")

    @model_validator(mode="after")
    def _consistent(self) -> VideoVariant:
        if 0 < self.framerate < 1:
            raise ValueError("framerate is 0 (keep the input's) or 1 to 120")
        if self.resolution is not None and (self.width is not None or self.height is not None):
            raise ValueError("give resolution or width/height, not both")
        if self.fit is not Fit.contain and (self.width is None or self.height is None):
            raise ValueError(f"fit {self.fit.value} needs both width and height (the box to fill)")
        if self.codec not in CODEC_PROFILES:
            for name in ("preset", "profile"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only for h264 and h265, not {self.codec.value}")
        elif self.profile is not None and self.profile not in CODEC_PROFILES[self.codec]:
            names = ", ".join(p.value for p in CODEC_PROFILES[self.codec])
            raise ValueError(f"profile {self.profile.value} is not for {self.codec.value}; allowed: {names}")
        return self


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def target_size(variant: VideoVariant, width: int, height: int) -> tuple[int, int]:
    """Output frame size: never upscaled, both sides even.

    `resolution` or `height` alone set the height, `width` alone the width, aspect kept; `width` and
    `height` together are a box. `contain` fits the frame inside it. `cover` and `pad` give the box's
    own shape: the box itself when the input is large enough, else the largest frame of that shape the
    input's pixels fill without upscaling (cover: the crop is the input's height or width; pad: the
    picture keeps its size and the bars make up the shape).
    """
    if variant.fit is not Fit.contain and variant.width and variant.height:
        box_w, box_h = variant.width, variant.height
        fill = min(width / box_w, height / box_h)  # the input's pixels per box pixel, filling the box
        inside = max(width / box_w, height / box_h)  # … fitting inside it
        box_scale = min(1.0, fill if variant.fit is Fit.cover else inside)
        return _even(box_w * box_scale), _even(box_h * box_scale)
    scale = 1.0
    want_h = variant.resolution.height if variant.resolution else variant.height
    if want_h is not None:
        scale = min(scale, want_h / height)
    if variant.width is not None:
        scale = min(scale, variant.width / width)
    if scale >= 1.0:
        return _even(width), _even(height)
    return _even(width * scale), _even(height * scale)


class AudioSpec(Strict):
    """The audio track of an output. `{"enabled": false}` on a video output: no audio track."""

    enabled: bool = True
    codec: AudioCodec | None = Field(default=None, description="Default: the container's first codec.")
    bitrate: int | None = Field(
        default=None, ge=32, le=320, description="kb/s (lossy codecs only); default by codec."
    )
    channels: int = Field(default=2, ge=1, le=2, description="1 (mono) or 2 (stereo, default).")
    sample_rate: int | None = Field(default=None, description="Hz; default 48000 (44100 for mp3).")

    @field_validator("sample_rate")
    @classmethod
    def _known_rate(cls, value: int | None) -> int | None:
        if value is not None and value not in SAMPLE_RATES:
            raise ValueError("sample_rate must be one of " + ", ".join(map(str, SAMPLE_RATES)))
        return value


AUDIO_BITRATE_KBPS: dict[AudioCodec, int] = {AudioCodec.aac: 128, AudioCodec.opus: 96, AudioCodec.mp3: 192}


class SegmentSpec(Strict):
    """How an hls/dash package is cut: every segment starts on a keyframe at the same time in every rung."""

    duration: int = Field(
        default=6, ge=1, le=30, description="Target segment length in seconds (1–30, default 6)."
    )


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


class ImageSpec(Strict):
    """A still image output (jpg, png, webp, avif): an image input optimized, or a frame of a video."""

    width: int | None = Field(
        default=None, ge=16, le=IMAGE_MAX_SIDE, description="Target width (aspect kept; never upscaled)."
    )
    height: int | None = Field(
        default=None, ge=16, le=IMAGE_MAX_SIDE, description="Target height (with width: a box fitted inside)."
    )
    quality: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="1 (smallest) to 100 (best); default and per-format mapping in README (Images). "
        "Not for png, which is lossless.",
    )
    time: float | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="Video inputs: the second the frame is taken from; default the middle (a GIF: its "
        "first frame). Ignored for still-image inputs.",
    )


class SpriteSpec(Strict):
    columns: int = Field(default=10, ge=1, le=20, description="Tiles per row of the sprite sheet.")


class ThumbnailsSpec(Strict):
    """A set of thumbnails: exactly one of `times`, `interval` or `count`."""

    times: list[float] | None = Field(
        default=None,
        min_length=1,
        max_length=THUMBNAILS_MAX_IMAGES,
        description="Seconds to take a frame at (a time past the end gives the last frame).",
    )
    interval: float | None = Field(
        default=None, ge=0.1, le=86400, description="One frame every N seconds, from 0."
    )
    count: int | None = Field(
        default=None, ge=1, le=THUMBNAILS_MAX_IMAGES, description="N frames evenly spaced over the input."
    )
    format: ImageFormat = ImageFormat.jpg
    width: int = Field(default=320, ge=16, le=1920, description="Width of each image (never upscaled).")
    quality: int | None = Field(default=None, ge=1, le=100, description="As for images; not for png.")
    sprite: SpriteSpec | None = Field(
        default=None,
        description="Also a sprite sheet of every thumbnail and a WebVTT index of it (`true` for "
        "10 columns).",
    )

    @field_validator("sprite", mode="before")
    @classmethod
    def _bool_sprite(cls, value: Any) -> Any:
        if value is True:
            return {}
        return None if value is False else value

    @field_validator("times")
    @classmethod
    def _times_valid(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if any(not 0 <= t <= 86400 for t in value):
            raise ValueError("times are seconds from 0 to 86400")
        if len({round(t, 3) for t in value}) != len(value):
            raise ValueError("times must be different from each other")
        return sorted(value)

    def image_count(self, duration_s: float) -> int:
        """How many thumbnails this spec makes of an input lasting `duration_s` (the sprite not counted)."""
        if self.times is not None:
            return len(self.times)
        if self.count is not None:
            return self.count
        assert self.interval is not None
        return max(1, math.ceil(duration_s / self.interval - 1e-9))

    @model_validator(mode="after")
    def _one_mode(self) -> ThumbnailsSpec:
        modes = [m for m in ("times", "interval", "count") if getattr(self, m) is not None]
        if len(modes) != 1:
            raise ValueError(
                "give exactly one of times, interval or count"
                + (f" (got {', '.join(modes)})" if modes else "")
            )
        if self.format is ImageFormat.png and self.quality is not None:
            raise ValueError("quality does not apply to lossless png")
        if (
            self.sprite
            and self.format is ImageFormat.webp
            and self.sprite.columns * self.width > WEBP_MAX_SIDE
        ):
            raise ValueError(
                f"a webp sprite is at most {WEBP_MAX_SIDE} pixels wide: fewer columns or a smaller width"
            )
        return self


def _type_or_preset(schema: dict[str, Any]) -> None:
    """In the published schema an output needs `type` or `preset` (a preset supplies the type)."""
    schema["required"] = [name for name in schema.get("required", []) if name != "type"]
    if not schema["required"]:
        del schema["required"]
    schema["anyOf"] = [{"required": ["type"]}, {"required": ["preset"]}]


class OutputSpec(Strict):
    """One output. `{"preset": name}` stands for a preset's whole spec (GET /v1/presets); top-level
    fields given next to it replace the preset's."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_type_or_preset)

    preset: str | None = Field(
        default=None,
        description="A preset's name (GET /v1/presets): the output is that preset's spec, with any other "
        "top-level field given here replacing the preset's.",
        max_length=64,
        examples=list(presets.CATALOG),
    )
    type: OutputType
    video: list[VideoVariant] = Field(
        default_factory=list,
        max_length=MAX_RUNGS,
        description="The video rendition (video types only): one, or for hls/dash the 1–20 rungs of the "
        "ladder. A single object is accepted as shorthand for a list of one.",
    )
    audio: AudioSpec = Field(
        default_factory=AudioSpec,
        description='The audio track: {codec, bitrate, channels, sample_rate}, or {"enabled": false} for none.'
        " In hls/dash packages it is one rendition shared by every rung.",
    )
    segments: SegmentSpec | None = Field(
        default=None, description="hls/dash only: segment length (default 6 s)."
    )

    image: ImageSpec | None = Field(
        default=None, description="Image outputs (jpg, png, webp, avif): {width, height, quality, time}."
    )
    thumbnails: ThumbnailsSpec | None = Field(
        default=None,
        description="The `thumbnails` output: {times | interval | count, format, width, quality, sprite}.",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        # A dumped spec carries its preset's name and every field, so it validates back unchanged.
        if isinstance(data, dict) and data.get("preset") is not None:
            return {**presets.expand(data["preset"]), **data}
        return data

    @field_validator("video", mode="before")
    @classmethod
    def _one_object_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _codec_fits_container(self) -> OutputSpec:
        if self.type.is_visual:
            return self._visual_consistent()
        if self.image is not None:
            raise ValueError(f"image is only for image outputs (jpg, png, webp, avif), not {self.type.value}")
        if self.thumbnails is not None:
            raise ValueError(f"thumbnails is only for thumbnails outputs, not {self.type.value}")
        if self.type.is_audio:
            if self.video:
                raise ValueError(f"{self.type.value} is an audio-only output: it takes no video")
            if not self.audio.enabled:
                raise ValueError(f"{self.type.value} is an audio-only output: its audio cannot be disabled")
        elif not self.video:
            raise ValueError(f"a {self.type.value} output needs a video variant")
        if not self.type.is_stream:
            if len(self.video) > 1:
                raise ValueError(
                    f"a {self.type.value} output takes one video variant, got {len(self.video)}; "
                    f"hls and dash take 1 to {MAX_RUNGS}"
                )
            if self.segments is not None:
                raise ValueError(f"segments are only for hls and dash outputs, not {self.type.value}")
        allowed = CONTAINER_CODECS.get(self.type, ())
        for variant in self.video:
            if variant.codec not in allowed:
                names = ", ".join(c.value for c in allowed)
                raise ValueError(
                    f"codec {variant.codec.value} cannot go in {self.type.value}; allowed: {names}"
                )
        audio_allowed = CONTAINER_AUDIO_CODECS[self.type]
        if self.audio.codec is not None and self.audio.codec not in audio_allowed:
            names = ", ".join(c.value for c in audio_allowed)
            raise ValueError(
                f"audio codec {self.audio.codec.value} cannot go in {self.type.value}; allowed: {names}"
            )
        codec = self.audio_codec
        if codec.lossless and self.audio.bitrate is not None:
            raise ValueError(f"audio bitrate does not apply to lossless {codec.value}")
        rate = self.audio.sample_rate
        if codec is AudioCodec.opus and rate is not None and rate not in OPUS_SAMPLE_RATES:
            names = ", ".join(map(str, OPUS_SAMPLE_RATES))
            raise ValueError(f"opus sample_rate must be one of {names}")
        return self

    def _visual_consistent(self) -> OutputSpec:
        kind = "a thumbnails" if self.type is OutputType.thumbnails else "an image"
        if self.video:
            raise ValueError(f"{self.type.value} is {kind} output: it takes no video")
        if self.segments is not None:
            raise ValueError(f"segments are only for hls and dash outputs, not {self.type.value}")
        if self.audio != AudioSpec():  # compared, not model_fields_set: the payload round trip sets it
            raise ValueError(f"{self.type.value} is {kind} output: it takes no audio")
        if self.type is OutputType.thumbnails:
            if self.image is not None:
                raise ValueError("a thumbnails output takes `thumbnails`, not `image`")
            if self.thumbnails is None:
                raise ValueError("a thumbnails output needs `thumbnails`: {times | interval | count, ...}")
            return self
        if self.thumbnails is not None:
            raise ValueError(f"{self.type.value} is an image output: it takes `image`, not `thumbnails`")
        if self.type is OutputType.png and self.image is not None and self.image.quality is not None:
            raise ValueError("quality does not apply to lossless png")
        return self

    @property
    def strategy(self) -> str:
        """What the output is, in one word for reports: `video-webm-vp9`, `video-mp4-h264`, `audio-mp3`.

        With video variants: `video-<type>-<codecs>`; otherwise the content type's kind and the type
        (`audio-mp3`; `image-webp` for an image type)."""
        if self.video:
            return "-".join(["video", self.type.value, *dict.fromkeys(v.codec.value for v in self.video)])
        kind = CONTENT_TYPES.get(self.type, "application/octet-stream").split("/")[0]
        return f"{kind}-{self.type.value}"

    @property
    def audio_codec(self) -> AudioCodec:
        """The audio codec this output's track uses (when it has one)."""
        return self.audio.codec or CONTAINER_AUDIO_CODECS[self.type][0]

    @property
    def audio_bitrate_kbps(self) -> int | None:
        codec = self.audio_codec
        return None if codec.lossless else self.audio.bitrate or AUDIO_BITRATE_KBPS[codec]

    @property
    def sample_rate(self) -> int:
        if self.audio.sample_rate is not None:
            return self.audio.sample_rate
        return 44100 if self.audio_codec is AudioCodec.mp3 else 48000


class Priority(StrEnum):
    """Which jobs workers pick up first when they are busy; also a price multiplier."""

    economy = "economy"
    standard = "standard"
    premium = "premium"

    @property
    def temporal_key(self) -> int:
        """Temporal task-queue priority: 1 is served first, 3 is the default."""
        return {Priority.premium: 1, Priority.standard: 3, Priority.economy: 5}[self]


METADATA_MAX_ENTRIES = 20
METADATA_MAX_KEY = 64
METADATA_MAX_VALUE = 1024
PATH_TEMPLATE_VARIABLES = ("job_id", "output_id", "date", "format", "codec", "resolution", "quality")


def _http_url(value: str | None, field: str) -> str | None:
    if value is not None and not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"{field} must be an http:// or https:// URL")
    return value


INPUT_SCHEMES = ("https", "http", "s3", "gs", "upload")
UPLOAD_ID = re.compile(r"^up_[A-Za-z0-9_-]{20,64}$")


def _input_url(value: str | None, field: str = "input_url") -> str | None:
    """input_url (or an item of inputs): one of INPUT_SCHEMES, with what that scheme needs after `://`."""
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in INPUT_SCHEMES:
        raise ValueError(
            f"{field} must use one of the schemes " + ", ".join(f"{s}://" for s in INPUT_SCHEMES)
        )
    if scheme == "upload" and not UPLOAD_ID.match(rest):
        raise ValueError(f"{field}: upload:// takes the upload_id POST /v1/uploads returned")
    if scheme in ("s3", "gs"):
        bucket, _, key = rest.partition("/")
        if not bucket or not key:
            raise ValueError(f"{field}: {scheme}:// URLs are {scheme}://bucket/key")
    if scheme in ("http", "https") and not rest.split("/", 1)[0]:
        raise ValueError(f"{field}: the URL has no host")
    return value


MAX_INPUTS = 10
# The shortest clip (and the shortest piece of an input a join keeps): below this an encoder may get
# no frame at all.
MIN_CLIP_S = 0.1


class Clip(Strict):
    """The part of the input (of the joined inputs, for a join) every output is made from, in seconds."""

    start: float = Field(default=0.0, ge=0, allow_inf_nan=False, description="Seconds from the start.")
    end: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Seconds from the start; past the input's end it is clamped to it. Omit: to the end.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Clip:
        if self.end is not None and self.end - self.start < MIN_CLIP_S:
            if self.end <= self.start:
                raise ValueError(f"end ({self.end:g}) must be greater than start ({self.start:g})")
            raise ValueError(f"the clip must last at least {MIN_CLIP_S:g} s")
        return self


class JobCreate(Strict):
    """Body of `POST /v1/jobs` (JSON), or the parts of its multipart form (each field a form part)."""

    input_url: str | None = Field(
        default=None,
        max_length=4096,
        description="Where the input is: "
        + ", ".join(f"`{s}://…`" for s in INPUT_SCHEMES)
        + " (`upload://{upload_id}` from `POST /v1/uploads`).",
    )
    inputs: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_INPUTS,
        description=f"1 to {MAX_INPUTS} input URLs (same schemes as `input_url`), joined in this order into "
        "every output. Not together with `input_url` or a media file.",
    )
    clip: Clip | None = Field(
        default=None,
        description="Make every output from this part of the input (of the joined timeline, with `inputs`).",
    )
    outputs: list[OutputSpec] = Field(
        default_factory=list,
        max_length=10,
        description="What to make; at least one output, or `thumbnails`.",
    )
    thumbnails: list[ThumbnailsSpec] = Field(
        default_factory=list,
        max_length=THUMBNAILS_MAX_SPECS,
        description="Shorthand: each spec becomes a `thumbnails` output appended to `outputs`.",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description=f"Your own key/value pairs, returned as given: at most {METADATA_MAX_ENTRIES} entries, "
        f"keys up to {METADATA_MAX_KEY} characters, values up to {METADATA_MAX_VALUE}.",
        # The validator below enforces these with its own messages; here they are published in the
        # OpenAPI schema, so clients (and the schemathesis fuzz test) see every limit.
        json_schema_extra={
            "maxProperties": METADATA_MAX_ENTRIES,
            "propertyNames": {"minLength": 1, "maxLength": METADATA_MAX_KEY},
            "additionalProperties": {"type": "string", "maxLength": METADATA_MAX_VALUE},
        },
    )
    priority: Priority = Field(
        default=Priority.standard, description="Served first when workers are busy: premium, then standard."
    )
    delayed_start: bool = Field(
        default=False,
        description="Stop after probing in `awaiting_confirmation` with a cost estimate until "
        "`POST /v1/jobs/{id}/confirm`.",
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Same key from the same organization → the existing job (also the Idempotency-Key header).",
    )
    webhook_url: str | None = Field(
        default=None, max_length=4096, description="Receives job.status_changed and output.completed events."
    )
    webhook_secret: str | None = Field(
        default=None, min_length=1, max_length=256, description="Key of the Recast-Signature HMAC."
    )
    output_path_template: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Where outputs are stored under your organization's prefix; variables: "
        + " ".join("{" + v + "}" for v in PATH_TEMPLATE_VARIABLES),
    )

    @model_validator(mode="after")
    def _thumbnails_are_outputs(self) -> JobCreate:
        # One definition: a top-level thumbnails spec is exactly a `thumbnails` output.
        if self.thumbnails:
            self.outputs = [
                *self.outputs,
                *(OutputSpec(type=OutputType.thumbnails, thumbnails=t) for t in self.thumbnails),
            ]
            self.thumbnails = []
        if not self.outputs:
            raise ValueError("outputs: at least one output (or thumbnails) is required")
        sets = sum(1 for o in self.outputs if o.type is OutputType.thumbnails)
        if sets > THUMBNAILS_MAX_SPECS:
            raise ValueError(
                f"thumbnails: at most {THUMBNAILS_MAX_SPECS} thumbnails specs per job, got {sets}"
            )
        return self

    @field_validator("input_url")
    @classmethod
    def _input_known_scheme(cls, value: str | None) -> str | None:
        return _input_url(value)

    @field_validator("inputs")
    @classmethod
    def _inputs_known_schemes(cls, value: list[str] | None) -> list[str] | None:
        for i, url in enumerate(value or []):
            _input_url(url, f"inputs[{i}]")
        return value

    @model_validator(mode="after")
    def _one_input(self) -> JobCreate:
        if self.inputs is not None and self.input_url is not None:
            raise ValueError("give input_url or inputs, not both")
        return self

    @field_validator("webhook_url")
    @classmethod
    def _webhook_http_only(cls, value: str | None) -> str | None:
        return _http_url(value, "webhook_url")

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > METADATA_MAX_ENTRIES:
            raise ValueError(f"at most {METADATA_MAX_ENTRIES} entries are allowed, got {len(value)}")
        for key, item in value.items():
            if not 1 <= len(key) <= METADATA_MAX_KEY:
                raise ValueError(f"keys are 1 to {METADATA_MAX_KEY} characters; {key[:80]!r} is not")
            if len(item) > METADATA_MAX_VALUE:
                raise ValueError(
                    f"values are at most {METADATA_MAX_VALUE} characters; {key!r} has {len(item)}"
                )
        return value


class OptimizeCreate(JobCreate):
    """Body of `POST /v1/optimize`: a job's body with exactly one output (default: the `web` preset)."""

    outputs: list[OutputSpec] = Field(
        default_factory=lambda: [OutputSpec.model_validate({"preset": presets.DEFAULT})],
        min_length=1,
        max_length=1,
        description=f"One output; omitted: the `{presets.DEFAULT}` preset.",
    )
    delayed_start: Literal[False] = Field(
        default=False, description="Not available here: a synchronous call cannot wait for a confirmation."
    )
    thumbnails: list[ThumbnailsSpec] = Field(
        default_factory=list,
        max_length=0,
        description="Not here: a thumbnails set is one output, given in `outputs`.",
    )

    @field_validator("outputs", mode="before")
    @classmethod
    def _exactly_one(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError(
                f"POST /v1/optimize makes exactly one output, not {len(value)}; POST /v1/jobs makes more"
            )
        return value


# ---------------------------------------------------------------- job state -------------------------------


class JobStatus(StrEnum):
    pending = "pending"
    probing = "probing"
    awaiting_confirmation = "awaiting_confirmation"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    partial = "partial"
    canceled = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.completed, JobStatus.failed, JobStatus.partial, JobStatus.canceled)


class OutputStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    canceled = "canceled"


class Stage(StrEnum):
    """Where a job is; each stage owns a fixed slice of `progress` so it never goes backwards."""

    queued = "queued"
    fetching = "fetching"
    probing = "probing"
    awaiting_confirmation = "awaiting_confirmation"
    encoding = "encoding"
    finalizing = "finalizing"
    done = "done"


# stage → (progress at start, progress at end)
STAGE_PROGRESS: dict[Stage, tuple[int, int]] = {
    Stage.queued: (0, 0),
    Stage.fetching: (0, 10),
    Stage.probing: (10, 15),
    Stage.awaiting_confirmation: (15, 15),
    Stage.encoding: (15, 95),
    Stage.finalizing: (95, 100),
    Stage.done: (100, 100),
}


def encoding_progress(outputs: list[Output]) -> int:
    """Job progress while encoding: the encoding slice, filled by the mean of the outputs' progress."""
    lo, hi = STAGE_PROGRESS[Stage.encoding]
    return lo + round((hi - lo) * sum(o.progress for o in outputs) / (100 * max(1, len(outputs))))


class InputInfo(BaseModel):
    url: str | None = None
    filename: str | None = None
    size: int | None = None


class InputMetadata(BaseModel):
    kind: InputKind = Field(
        default=InputKind.video, description="video, audio (no video stream) or image (a still picture)."
    )
    duration_ms: int = Field(description="0 for a still image.")
    width: int | None = Field(default=None, description="As displayed: after rotation and EXIF orientation.")
    height: int | None = None
    orientation: int | None = Field(
        default=None,
        ge=2,
        le=8,
        description="EXIF orientation of an image input (2–8) when it is not upright; outputs are upright.",
    )
    codec: str | None = None
    bitrate_kbps: int | None = None
    framerate: float | None = None
    audio_codec: str | None = None
    file_size_bytes: int


class JobInput(BaseModel):
    """One of a join's inputs, in order: where it came from and, after probing, what it is."""

    url: str | None = None
    filename: str | None = None
    size: int | None = None
    metadata: InputMetadata | None = None


class AudioInfo(BaseModel):
    codec: str
    bitrate_kbps: int | None = None
    channels: int | None = None
    sample_rate: int | None = None


class OutputFile(BaseModel):
    """One file of a folder output (an HLS/DASH package, a thumbnail set)."""

    name: str = Field(description="Path inside the output's folder, e.g. `720p/segment_00001.m4s`.")
    size: int
    content_type: str


class Output(BaseModel):
    id: str
    type: OutputType
    preset: str | None = Field(default=None, description="The preset this output was made from, if any.")
    strategy: str | None = Field(
        default=None, description="What is made, e.g. `video-webm-vp9`, `video-mp4-h264`, `audio-mp3`."
    )
    status: OutputStatus = OutputStatus.pending
    progress: int = 0
    video: list[VideoVariant] = Field(default_factory=list, description="Empty for audio-only outputs.")
    audio: AudioInfo | None = None
    file_size_bytes: int | None = None
    # The optimization report, in the names image/video optimization APIs use: in and out side by side.
    input_bytes: int | None = Field(default=None, description="The input's size (a join: the sum).")
    output_bytes: int | None = Field(
        default=None, description="The output's size: the same figure as file_size_bytes."
    )
    input_duration_ms: int | None = Field(default=None, description="The input's duration (a join: the sum).")
    input_width: int | None = Field(default=None, description="The input's width (a join: the joined frame).")
    saved_bytes: int | None = Field(
        default=None,
        description="input_metadata.file_size_bytes − file_size_bytes: negative when the output is larger.",
    )
    saved_percent: float | None = Field(
        default=None, description="saved_bytes as a percentage of the input's size (one decimal)."
    )
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None
    filename: str | None = Field(
        default=None, description="Download name; for a folder output, its entry file (playlist, MPD, VTT)."
    )
    content_type: str | None = None
    files: list[OutputFile] = Field(
        default_factory=list,
        description="Every file of a folder output (hls, dash, thumbnails); empty for single-file outputs.",
    )
    download_url: str | None = Field(
        default=None, description="Signed URL valid until download_expires_at; the download route signs anew."
    )
    download_expires_at: datetime | None = None
    path: str | None = Field(
        default=None, description="Where the output is stored, under the organization's prefix."
    )
    error_code: str | None = None
    error_message: str | None = None


class Execution(BaseModel):
    """Milliseconds spent in each phase (null until the phase has run)."""

    queue_duration_ms: int | None = None
    fetch_duration_ms: int | None = None
    probe_duration_ms: int | None = None
    confirmation_wait_ms: int | None = None
    encode_duration_ms: int | None = None
    finalize_duration_ms: int | None = None
    total_duration_ms: int | None = None


class Job(BaseModel):
    id: str
    organization: str
    status: JobStatus = JobStatus.pending
    progress: int = 0
    stage: Stage = Stage.queued
    input: InputInfo = Field(description="The input; for a join, the first of `inputs`.")
    input_metadata: InputMetadata | None = Field(
        default=None,
        description="After probing. For a join, the joined timeline: duration and file size the sums, "
        "width/height the largest input's, framerate the joined rate, codecs the first input's that has one.",
    )
    inputs: list[JobInput] = Field(
        default_factory=list, description="With `inputs`: each input, in order, with its own metadata."
    )
    clip: Clip | None = Field(
        default=None, description="As asked; after probing, its end is clamped to the input's duration."
    )
    outputs: list[Output]
    error_code: str | None = None
    error_message: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    priority: Priority = Priority.standard
    delayed_start: bool = False
    idempotency_key: str | None = None
    webhook_url: str | None = None
    total_estimated_cost: float | None = Field(
        default=None, description="Set after probing (price table in README)."
    )
    total_actual_cost: float | None = Field(
        default=None, description="Set when the job ends, from what was encoded."
    )
    currency: str = "USD"
    created_at: datetime
    updated_at: datetime
    probed_at: datetime | None = None
    confirmed_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    execution: Execution = Field(default_factory=Execution)


# ---------------------------------------------------------------- workflow & activity payloads ------------


class InputSource(BaseModel):
    """Where the input is: a remote URL to fetch, or an object already in storage (an upload)."""

    url: str | None = None
    storage_key: str | None = None
    filename: str | None = None
    size: int | None = None


class JobSettings(BaseModel):
    """Operational knobs fixed at submit time, so the workflow stays deterministic across replays."""

    heartbeat_timeout_s: float = 30.0
    stall_timeout_s: float = 60.0
    encode_attempts: int = 3
    url_ttl_s: int = 3600
    public_url: str = ""
    # On local-filesystem storage every worker reads the input in place, so probing is a short local
    # activity on the workflow's own worker (no server round trip); remote storage needs a download.
    local_storage: bool = False
    confirmation_timeout_s: float = 86400.0
    webhook_retry_s: float = 3600.0
    # RECAST_MAX_DURATION: each input is held to it at probe, a join's joined output here.
    max_duration_s: float = 4 * 3600.0


def segment_duration(spec: OutputSpec) -> int:
    """Seconds per segment of an hls/dash package."""
    return (spec.segments or SegmentSpec()).duration


class PlannedOutput(BaseModel):
    id: str
    spec: OutputSpec
    path: str | None = Field(
        default=None, description="Storage path under the organization's prefix, if templated."
    )


class Webhook(BaseModel):
    url: str
    secret: str | None = None


class JobParams(BaseModel):
    """The workflow's input: everything `TranscodeJob` needs, decided by whoever submits the job."""

    job_id: str
    organization: str
    source: InputSource = Field(description="The input; for a join, inputs[0].")
    inputs: list[InputSource] = Field(
        default_factory=list, description="A join's inputs in order (empty: just `source`)."
    )
    clip: Clip | None = None
    outputs: list[PlannedOutput]
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    priority: Priority = Priority.standard
    delayed_start: bool = False
    idempotency_key: str | None = None
    webhook: Webhook | None = None
    settings: JobSettings = Field(default_factory=JobSettings)


def initial_job(params: JobParams) -> Job:
    """The Job as it stands the moment it is submitted (what `POST /v1/jobs` returns)."""
    return Job(
        id=params.job_id,
        organization=params.organization,
        input=InputInfo(url=params.source.url, filename=params.source.filename, size=params.source.size),
        inputs=[JobInput(url=s.url, filename=s.filename, size=s.size) for s in params.inputs],
        clip=params.clip,
        outputs=[
            Output(
                id=o.id,
                type=o.spec.type,
                preset=o.spec.preset,
                strategy=o.spec.strategy,
                video=o.spec.video,
                content_type=CONTENT_TYPES[o.spec.type],
                path=o.path,
            )
            for o in params.outputs
        ],
        metadata=params.metadata,
        priority=params.priority,
        delayed_start=params.delayed_start,
        idempotency_key=params.idempotency_key,
        webhook_url=params.webhook.url if params.webhook else None,
        created_at=params.created_at,
        updated_at=params.created_at,
    )


def savings(input_bytes: int, output_bytes: int) -> tuple[int, float | None]:
    """(saved_bytes, saved_percent) of an output against its input; negative when the output is larger."""
    saved = input_bytes - output_bytes
    return saved, round(100 * saved / input_bytes, 1) if input_bytes > 0 else None


def output_filename(stem: str, out: Output) -> str:
    """The download name of an output: the input's name, the rendition, the container. A streaming
    package's is its manifest, the file its download URL points to."""
    if out.type in STREAM_ENTRY:
        return STREAM_ENTRY[out.type]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:80] or "output"
    if out.type is OutputType.thumbnails:
        return f"{safe}-thumbnails"  # a folder: the download points at its entry file once it is made
    if out.type.is_image:
        return f"{safe}.{out.type.value}"
    if not out.video:
        return f"{safe}-audio.{out.type.value}"
    v = out.video[0]
    return f"{safe}-{size_label(v)}-{v.codec.value}.{out.type.value}"


def size_label(variant: VideoVariant) -> str:
    """The asked size, for file names and paths: `720p`, `1280x720` (a box), `1280w`, or `source`."""
    if variant.resolution:
        return variant.resolution.value
    if variant.width and variant.height:
        return f"{variant.width}x{variant.height}"
    if variant.width:
        return f"{variant.width}w"
    return f"{variant.height}p" if variant.height else "source"


class FetchRequest(BaseModel):
    job_id: str
    organization: str
    source: InputSource
    folder: str | None = None  # a join's inputs each get their own, so equal file names cannot collide


class FetchResult(BaseModel):
    storage_key: str
    size: int


class InputPart(BaseModel):
    """One input of a join, as the encoder needs it."""

    key: str
    metadata: InputMetadata


class EncodeRequest(BaseModel):
    job_id: str
    organization: str
    output_id: str
    spec: OutputSpec
    input_key: str  # a join's first input
    input_metadata: InputMetadata  # a join's combined view (recast/timeline.py joined_metadata)
    stall_timeout_s: float
    path: str | None = None  # templated storage path under the organization's prefix
    parts: list[InputPart] = Field(
        default_factory=list, description="A join's inputs in order (empty: just input_key)."
    )
    clip: Clip | None = Field(default=None, description="Resolved: end set and within the input.")


class EncodeResult(BaseModel):
    storage_key: str
    file_size_bytes: int
    duration_ms: int
    width: int | None = None
    height: int | None = None
    audio: AudioInfo | None = None
    files: list[OutputFile] = Field(default_factory=list)  # folder outputs only
    entry: str | None = None  # folder outputs: the file a download points to


class EncodeProgress(BaseModel):
    """Heartbeat details of an encode activity; the API reads them to report live progress."""

    output_id: str
    percent: float = 0.0
    stage: str = "encoding"


class SignRequest(BaseModel):
    organization: str
    job_id: str
    outputs: list[Output]
    ttl_s: int
    public_url: str


class DownloadFile(BaseModel):
    """A file of a folder output with its signed URL."""

    name: str
    url: str
    size: int
    content_type: str


class SignedUrl(BaseModel):
    output_id: str
    url: str
    expires_at: datetime
    files: list[DownloadFile] = Field(
        default_factory=list, description="Folder outputs: every file, each under the same token."
    )

"""What one output is (`OutputSpec` and its parts): the request's per-output schema, also carried in
workflow payloads. Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recast.core import presets
from recast.core.background import BackgroundSpec, background_problem
from recast.core.formats import (
    ANIMATED_TYPES,
    AUDIO_BITRATE_KBPS,
    CODEC_PROFILES,
    CONTAINER_AUDIO_CODECS,
    CONTAINER_CODECS,
    CONTENT_TYPES,
    IMAGE_MAX_SIDE,
    MAX_RUNGS,
    OPUS_SAMPLE_RATES,
    SAMPLE_RATES,
    THUMBNAILS_MAX_IMAGES,
    WATERMARK_TYPES,
    WEBP_MAX_SIDE,
    AudioCodec,
    Fit,
    ImageFormat,
    OutputType,
    Preset,
    Profile,
    Quality,
    Resolution,
    VideoCodec,
)
from recast.core.loudness import LoudnessSpec
from recast.core.previews import AnimationSpec, WaveformSpec
from recast.core.quality import Metric
from recast.core.watermark import WatermarkSpec


class Strict(BaseModel):
    """Request models refuse unknown fields, so a typo is a 400 and not a silently ignored option."""

    model_config = ConfigDict(extra="forbid")


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
    loudness: LoudnessSpec | None = Field(
        default=None,
        description='EBU R128 loudness: {"target_lufs": -23, "true_peak_db": -1} normalizes (two passes, '
        'linear where the ceiling allows), {"measure_only": true} only reports (docs/outputs.md, Loudness).',
    )

    @field_validator("sample_rate")
    @classmethod
    def _known_rate(cls, value: int | None) -> int | None:
        if value is not None and value not in SAMPLE_RATES:
            raise ValueError("sample_rate must be one of " + ", ".join(map(str, SAMPLE_RATES)))
        return value


class SegmentSpec(Strict):
    """How an hls/dash package is cut: every segment starts on a keyframe at the same time in every rung."""

    duration: int = Field(
        default=6, ge=1, le=30, description="Target segment length in seconds (1–30, default 6)."
    )


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
        description="1 (smallest) to 100 (best); default and per-format mapping in docs/outputs.md (Images). "
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
    watermark: WatermarkSpec | None = Field(
        default=None,
        description="Video outputs (mp4, webm, mkv, mov; hls/dash: every rung): an image laid over the "
        "picture {image, position, margin, width, opacity, start, end}.",
    )
    animation: AnimationSpec | None = Field(
        default=None,
        description="gif (optional), or webp to make it animated: a preview clip {start, duration, fps, "
        "width, loop, colors (gif), quality (webp)}.",
    )
    waveform: WaveformSpec | None = Field(
        default=None,
        description="The `waveform` output: {width, height, color, background, split_channels, points}.",
    )
    background: BackgroundSpec | None = Field(
        default=None,
        description="Single-file video outputs: key out a solid background colour (docs/outputs.md, "
        "Background removal): {remove, color, similarity, blend, layout}.",
    )
    burn_in: str | None = Field(
        default=None,
        max_length=35,
        description="Video outputs: the language of a job caption file (`captions`) to render into the "
        "picture, instead of carrying the captions as a track.",
    )

    metrics: list[Metric] = Field(
        default_factory=list,
        description="Video outputs (and every rung of hls/dash): quality measured against the source "
        "scaled to the output's frame, reported as `quality` — `ssim`, `psnr` (no VMAF: Debian's ffmpeg "
        "has no libvmaf). Costs extra (docs/outputs.md, Cost).",
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
        if why := self._finishing_misplaced():
            raise ValueError(why)
        if self.type is OutputType.waveform:
            return self._waveform_consistent()
        if self.burn_in is not None and not self.video:
            raise ValueError(
                f"burn_in is only for video outputs (mp4, mov, mkv, webm, hls, dash), not {self.type.value}"
            )
        if self.type.is_visual:
            return self._visual_consistent()
        if self.image is not None:
            raise ValueError(f"image is only for image outputs (jpg, png, webp, avif), not {self.type.value}")
        if self.thumbnails is not None:
            raise ValueError(f"thumbnails is only for thumbnails outputs, not {self.type.value}")
        if self.background is not None and not self.background.remove:
            self.background = None  # switched off: the output is made as if it had none
        if self.background is not None:
            why = background_problem(self.background, self.type, [v.codec for v in self.video])
            if why:
                raise ValueError(why)
        if self.audio.loudness is not None and not self.audio.enabled:
            raise ValueError("audio.loudness needs the audio track; this output's audio is disabled")
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

    def _finishing_misplaced(self) -> str | None:
        """Why a watermark, animation or waveform field does not belong on this output, if it does not."""
        kind = self.type.value
        if self.watermark is not None and self.type not in WATERMARK_TYPES:
            names = ", ".join(t.value for t in OutputType if t in WATERMARK_TYPES)
            return f"watermark is only for video outputs ({names}), not {kind}"
        if self.animation is not None:
            if self.type not in ANIMATED_TYPES:
                return f"animation is only for gif and webp outputs, not {kind}"
            if self.animation.colors is not None and self.type is not OutputType.gif:
                return "animation colors is for gif only (webp: quality)"
            if self.animation.quality is not None and self.type is not OutputType.webp:
                return "animation quality is for webp only (gif: colors)"
            if self.image is not None:
                return f"an animated {kind} takes `animation`, not `image`"
        if self.waveform is not None and self.type is not OutputType.waveform:
            return f"waveform is only for waveform outputs, not {kind}"
        return None

    def _waveform_consistent(self) -> OutputSpec:
        extra = [
            name
            for name in ("image", "thumbnails", "segments", "background", "burn_in")
            if getattr(self, name) is not None
        ]
        if self.video or extra or self.audio != AudioSpec():
            given = ", ".join(
                (["video"] if self.video else []) + extra + ([] if self.audio == AudioSpec() else ["audio"])
            )
            raise ValueError(f"a waveform output takes only `waveform` {{width, height, …}}, not {given}")
        return self

    @field_validator("metrics", mode="before")
    @classmethod
    def _known_metrics(cls, value: Any) -> Any:
        allowed = ", ".join(m.value for m in Metric)
        for name in value if isinstance(value, list) else []:
            if isinstance(name, str) and name not in Metric.__members__:
                why = (
                    " (VMAF needs an ffmpeg built with libvmaf, which Debian's is not)"
                    if name == "vmaf"
                    else ""
                )
                raise ValueError(f"unknown metric {name!r}{why}; allowed: {allowed}")
        return value

    @model_validator(mode="after")
    def _metrics_on_video(self) -> OutputSpec:
        if self.metrics and not self.video:
            raise ValueError(
                f"metrics are measured on video outputs (mp4, webm, mkv, mov, hls, dash), not {self.type.value}"
            )
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("metrics must be different from each other")
        return self

    def _visual_consistent(self) -> OutputSpec:
        kind = "a thumbnails" if self.type is OutputType.thumbnails else "an image"
        if self.background is not None:
            raise ValueError(f"background removal is for video outputs, not {self.type.value}")
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
        if self.type is OutputType.gif and self.image is not None:
            raise ValueError("a gif is an animated preview: it takes `animation`, not `image`")
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
        if self.animation is not None or self.type is OutputType.gif:
            return f"animation-{self.type.value}"
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


def segment_duration(spec: OutputSpec) -> int:
    """Seconds per segment of an hls/dash package."""
    return (spec.segments or SegmentSpec()).duration


def size_label(variant: VideoVariant) -> str:
    """The asked size, for file names and paths: `720p`, `1280x720` (a box), `1280w`, or `source`."""
    if variant.resolution:
        return variant.resolution.value
    if variant.width and variant.height:
        return f"{variant.width}x{variant.height}"
    if variant.width:
        return f"{variant.width}w"
    return f"{variant.height}p" if variant.height else "source"

"""Animated previews (`AnimationSpec`: the `gif` type, and `webp` with `animation`) and audio waveforms
(`WaveformSpec`: the `waveform` type), as the request asks for them, with their limits. Only pydantic;
importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# An animated preview is a short clip: its frames are held (GIF's palette pass reads them twice), so a
# long one would cost memory and bytes no preview needs.
ANIMATION_MAX_S = 30.0
ANIMATION_MAX_WIDTH = 1280
WAVEFORM_MAX_WIDTH = 8192
WAVEFORM_MAX_HEIGHT = 2048
WAVEFORM_MAX_POINTS = 100_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnimationSpec(_Strict):
    """An animated preview (`gif`, or `webp` with `animation`): a short clip of the input, no sound."""

    start: float = Field(
        default=0, ge=0, le=86400, description="Second of the input (after `clip`) the preview starts at."
    )
    duration: float = Field(
        default=3, gt=0, le=ANIMATION_MAX_S, description=f"Seconds, at most {ANIMATION_MAX_S:g} (default 3)."
    )
    fps: float = Field(
        default=10, ge=1, le=30, description="Frames per second, 1–30 (never above the input's)."
    )
    width: int = Field(
        default=320,
        ge=16,
        le=ANIMATION_MAX_WIDTH,
        description=f"Width in pixels, 16–{ANIMATION_MAX_WIDTH} (never upscaled; height from the aspect).",
    )
    loop: bool = Field(default=True, description="Loop forever (default) or play once.")
    colors: int | None = Field(
        default=None, ge=2, le=256, description="gif only: palette size, 2–256 (default 256)."
    )
    quality: int | None = Field(
        default=None, ge=1, le=100, description="webp only: 1 (smallest) to 100 (best), default 75."
    )


_HEX = re.compile(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")


class WaveformSpec(_Strict):
    """The `waveform` output: a PNG of the audio's amplitude over time and a JSON of its peaks."""

    width: int = Field(default=1800, ge=16, le=WAVEFORM_MAX_WIDTH, description="PNG width in pixels.")
    height: int = Field(default=280, ge=16, le=WAVEFORM_MAX_HEIGHT, description="PNG height in pixels.")
    color: str = Field(
        default="#1f6feb", max_length=9, description="The wave's colour, #RRGGBB or #RRGGBBAA."
    )
    background: str | None = Field(
        default=None,
        max_length=9,
        description="Background colour, #RRGGBB or #RRGGBBAA; default transparent.",
    )
    split_channels: bool = Field(
        default=False, description="One wave per channel (stereo: two) instead of their mix."
    )
    points: int | None = Field(
        default=None,
        ge=16,
        le=WAVEFORM_MAX_POINTS,
        description="Peak pairs (min, max) per channel in the JSON; default one per PNG column (`width`).",
    )

    @field_validator("color", "background")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _HEX.fullmatch(value):
            raise ValueError("colours are #RRGGBB or #RRGGBBAA, e.g. #1f6feb")
        return value

    @property
    def peaks(self) -> int:
        return self.points or self.width

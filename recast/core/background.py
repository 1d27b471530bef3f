"""Background removal on a video output: the request's `background` option and the colour it keyed out.

A solid background (a green screen, a studio backdrop, a rendered animation on one colour) is keyed
out by colour — detected from the frame borders, or given — and the output carries the transparency
either as an alpha channel (VP9 in WebM or Matroska: the only codec here whose encoder writes one) or
as a *stacked-alpha* frame: the colour picture on top and its alpha mask below, twice as tall, which
any codec carries and a WebGL player recombines (Safari plays no VP9 alpha).
Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from recast.core.formats import OutputType, VideoCodec

HEX_COLOR = re.compile(r"^#?([0-9A-Fa-f]{6})$")
# Which outputs carry an alpha channel: the container and the codec whose encoder writes one.
ALPHA_TYPES: dict[OutputType, tuple[VideoCodec, ...]] = {
    OutputType.webm: (VideoCodec.vp9,),
    OutputType.mkv: (VideoCodec.vp9,),
}
# Single-file video outputs; streaming packages and pictures take no background option.
BACKGROUND_TYPES = (OutputType.mp4, OutputType.webm, OutputType.mkv, OutputType.mov)


class BackgroundLayout(StrEnum):
    alpha = "alpha"  # an alpha channel (webm/mkv with vp9)
    stacked = "stacked"  # colour on top, the alpha mask below: twice the height, any video codec


class RgbColor(BaseModel):
    """A colour as 8-bit RGB and as `#RRGGBB`."""

    r: int = Field(ge=0, le=255)
    g: int = Field(ge=0, le=255)
    b: int = Field(ge=0, le=255)
    hex: str = Field(description="`#RRGGBB`, upper case.")

    @classmethod
    def of(cls, r: int, g: int, b: int) -> RgbColor:
        return cls(r=r, g=g, b=b, hex=f"#{r:02X}{g:02X}{b:02X}")

    @classmethod
    def parse(cls, text: str) -> RgbColor:
        match = HEX_COLOR.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a colour: give #RRGGBB")
        value = int(match[1], 16)
        return cls.of(value >> 16, (value >> 8) & 0xFF, value & 0xFF)


class BackgroundSpec(BaseModel):
    """`background` on a video output: key out a solid background colour."""

    model_config = {"extra": "forbid"}

    remove: bool = Field(default=True, description="Key the background out (false: the option is off).")
    color: str = Field(
        default="auto",
        max_length=16,
        description="`auto` (detected from the frame borders of the input: the dominant colour) or the "
        "colour to key out as `#RRGGBB`.",
    )
    similarity: float = Field(
        default=0.15,
        ge=0.01,
        le=1.0,
        description="How far (0.01–1) from the colour a pixel may be and still count as background.",
    )
    blend: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="0 keys out hard; above, pixels just beyond `similarity` become partly transparent.",
    )
    layout: BackgroundLayout = Field(
        default=BackgroundLayout.alpha,
        description="`alpha`: an alpha channel (webm or mkv with vp9). `stacked`: the colour picture on top "
        "and its alpha mask (white opaque, black transparent) below, twice as tall, in any video output.",
    )

    @field_validator("color")
    @classmethod
    def _auto_or_hex(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            return RgbColor.parse(value).hex
        except ValueError:
            raise ValueError("color is `auto` or #RRGGBB") from None


def background_problem(spec: BackgroundSpec, output: OutputType, codecs: list[VideoCodec]) -> str | None:
    """Why this output cannot carry `background`, naming what can; None when it can."""
    if output not in BACKGROUND_TYPES:
        names = ", ".join(t.value for t in BACKGROUND_TYPES)
        return f"background removal is for single-file video outputs ({names}), not {output.value}"
    if spec.layout is BackgroundLayout.alpha:
        allowed = ALPHA_TYPES.get(output, ())
        if not allowed or any(c not in allowed for c in codecs):
            return (
                f"{output.value} with {', '.join(c.value for c in codecs)} cannot carry an alpha channel: "
                "use webm or mkv with vp9, or layout `stacked` (colour above its alpha mask) in any video output"
            )
    return None

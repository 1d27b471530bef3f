"""A watermark over a video output's picture, as the request asks for it (`WatermarkSpec`): the image,
where it goes, how large, how opaque, when. Only pydantic; importable inside Temporal's workflow
sandbox.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A watermark is fetched by every output that has one and scaled for every frame: a small picture.
WATERMARK_MAX_PIXELS = 4096 * 4096
WATERMARK_BYTES_DOC = (
    "Largest watermark image (`watermark.image`), bytes; larger → the output fails with `too-large`."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(StrEnum):
    top_left = "top-left"
    top_right = "top-right"
    bottom_left = "bottom-left"
    bottom_right = "bottom-right"
    middle = "center"  # not `center`: that name is str.center


class WatermarkSpec(_Strict):
    """An image laid over a video output's picture (every rung of an hls/dash ladder)."""

    image: str = Field(
        max_length=2048,
        description="The image: an http(s)://, s3:// or gs:// URL, or upload://{upload_id}. Fetched and "
        "checked like an input (address rules, size and pixel limits); JPEG, PNG (alpha kept), WebP or GIF.",
    )
    position: Position = Field(default=Position.bottom_right, description="Where in the frame.")
    margin: int = Field(
        default=16,
        ge=0,
        le=1000,
        description="Pixels between the image and the frame's edges (ignored for center); in a ladder, "
        "pixels of the largest rung, the others scaled alike.",
    )
    width: float = Field(
        default=0.15, gt=0, le=1, description="The image's width as a fraction of the frame's width."
    )
    opacity: float = Field(default=1.0, ge=0, le=1, description="0 (invisible) to 1 (opaque).")
    start: float = Field(default=0, ge=0, le=86400, description="Seconds into the output it appears.")
    end: float | None = Field(
        default=None, gt=0, le=86400, description="Seconds into the output it goes; default the end."
    )

    @field_validator("image")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme not in ("http", "https", "s3", "gs", "upload"):
            raise ValueError("watermark image is an http(s)://, s3://, gs:// or upload:// URL")
        return value

    @model_validator(mode="after")
    def _window(self) -> WatermarkSpec:
        if self.end is not None and self.end <= self.start:
            raise ValueError("watermark end must be after its start")
        return self

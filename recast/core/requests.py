"""What a client submits (`JobCreate`, `OptimizeCreate`): inputs, clip, priority, metadata, webhook.
Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from recast.core import presets
from recast.core.captions import MAX_CAPTIONS, CaptionTrack, captions_problem
from recast.core.chunking import CHUNK_DURATION_MAX_S, CHUNK_DURATION_MIN_S, Chunking
from recast.core.formats import THUMBNAILS_MAX_SPECS, OutputType
from recast.core.specs import OutputSpec, Strict, ThumbnailsSpec


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


TEMPLATE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
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
    captions: list[CaptionTrack] = Field(
        default_factory=list,
        max_length=MAX_CAPTIONS,
        description="Caption files (SRT or WebVTT) every video output carries: a text track in "
        "mp4/mov/mkv/webm, a subtitles rendition in hls/dash; an output's `burn_in` renders one into "
        "the picture instead.",
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

    chunking: Chunking = Field(
        default=Chunking.auto,
        description="Split-and-stitch: encode each video output as chunks spread over the workers, then "
        "stitch them. `auto` (default) when it pays (a long input, more than one chunk slot in the fleet), "
        "`on` whenever the output allows it, `off` never.",
    )
    chunk_duration: float | None = Field(
        default=None,
        ge=CHUNK_DURATION_MIN_S,
        le=CHUNK_DURATION_MAX_S,
        allow_inf_nan=False,
        description=f"Seconds of video per chunk ({CHUNK_DURATION_MIN_S:g}–{CHUNK_DURATION_MAX_S:g}); "
        "default RECAST_CHUNK_DURATION.",
    )

    template: str | None = Field(
        default=None,
        max_length=64,
        pattern=TEMPLATE_NAME_PATTERN,
        description="A template's name (`/v1/templates`): the job takes every field it does not give from "
        "the template's latest version; giving a field the template locks is a 400.",
    )
    template_version: int | None = Field(
        default=None, ge=1, description="With `template`: use this version instead of the latest."
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

    @model_validator(mode="after")
    def _captions_fit(self) -> JobCreate:
        if problem := captions_problem(self.captions, self.outputs):
            raise ValueError(problem)
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

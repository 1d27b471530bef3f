"""Templates: an organization's saved job settings (`/v1/templates`), applied to a job that names one.

A template holds any of the job fields below and which of them are `locked`: a job naming the
template (`"template": "name"`) takes every field it does not give itself from the template, and may
not give a locked one (400 naming it). Each change makes a new version; a job records the version it
used. Only pydantic; the storage of templates is `api/services/templates.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import Field

from recast.core.requests import TEMPLATE_NAME_PATTERN, Clip, Priority
from recast.core.specs import OutputSpec, Strict, ThumbnailsSpec

TemplateField = Literal[
    "outputs",
    "thumbnails",
    "clip",
    "metadata",
    "priority",
    "delayed_start",
    "webhook_url",
    "webhook_secret",
    "output_path_template",
]
TEMPLATE_FIELDS: tuple[str, ...] = get_args(TemplateField)


class TemplateBody(Strict):
    """What a template holds: `PUT /v1/templates/{name}` (a new version), and `POST` with a name."""

    description: str | None = Field(default=None, max_length=1024)
    outputs: list[OutputSpec] | None = Field(default=None, max_length=10)
    thumbnails: list[ThumbnailsSpec] | None = Field(default=None, max_length=10)
    clip: Clip | None = None
    metadata: dict[str, str] | None = None
    priority: Priority | None = None
    delayed_start: bool | None = None
    webhook_url: str | None = Field(default=None, max_length=4096)
    webhook_secret: str | None = Field(default=None, min_length=1, max_length=256)
    output_path_template: str | None = Field(default=None, min_length=1, max_length=512)
    locked: list[TemplateField] = Field(
        default_factory=list,
        description="Fields a job using the template may not give (its value, or its absence, is kept).",
    )

    def job_fields(self) -> dict[str, Any]:
        """The job fields this template sets, as JSON values (as a job body would give them)."""
        data = self.model_dump(mode="json", include=set(TEMPLATE_FIELDS), exclude_none=True)
        return {k: v for k, v in data.items() if getattr(self, k) is not None}


class TemplateCreate(TemplateBody):
    """Body of `POST /v1/templates`: a new template (version 1)."""

    name: str = Field(pattern=TEMPLATE_NAME_PATTERN, description="Unique in your organization.")


class Template(TemplateBody):
    name: str
    version: int = Field(description="1 when created; each PUT makes the next.")
    created_at: datetime = Field(description="When this version was made.")


class TemplateError(ValueError):
    """A job's fields clash with its template: `field` names the locked field it gave."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _given(value: object) -> bool:
    # A form submission fills metadata and thumbnails with empty values when it has none.
    return value is not None and value != {} and value != []


def apply(template: Template, raw: dict[str, Any]) -> dict[str, Any]:
    """A job's fields with the template's filled in where the job gives none; TemplateError when the job
    gives a field the template locks."""
    for field in template.locked:
        if _given(raw.get(field)):
            raise TemplateError(
                field, f"{field}: locked by template {template.name!r} (version {template.version})"
            )
    merged = dict(raw)
    for name, value in template.job_fields().items():
        if not _given(raw.get(name)):
            merged[name] = value
    return merged

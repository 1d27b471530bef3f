"""`/v1/templates`: an organization's saved job templates, kept as JSON objects in storage.

Storage rather than Temporal: a template is a small record read at every submission that names it, and
job state is the only thing Recast keeps in Temporal (no database is added for this either). An entity
workflow per template would need a worker to answer every read (a query) or a describe per read, and
would grow a history with every edit; a JSON object per version under the organization's prefix
(`{org}/templates/{name}/v000001.json`, recast/infra/storage.py) is one read, works with every storage
backend, and keeps the organization's isolation of its files.

Versions are immutable: `POST` writes version 1, each `PUT` the next (a conditional write, so two
racing edits cannot both become the same version), and a job records the version it used. `DELETE`
retires the template — new jobs can no longer name it, while its versions stay readable with
`?version=` for the jobs that used them; a later `POST` of that name starts again at the next version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from api.errors import ApiError, describe_validation
from recast.core.requests import TEMPLATE_NAME_PATTERN, JobCreate
from recast.core.templates import Template, TemplateBody, TemplateCreate, TemplateError, apply
from recast.infra.storage import Storage, template_key, template_prefix

RETIRED = "retired"
# The version number is in the key; a handful of tries settles a race of edits.
WRITE_TRIES = 5


class TemplateUse(BaseModel):
    """A job's `template` and `template_version` fields."""

    template: str = Field(pattern=TEMPLATE_NAME_PATTERN)
    template_version: int | None = None


@dataclass(frozen=True)
class Templates:
    storage: Storage

    async def _versions(self, org: str, name: str) -> tuple[list[int], bool]:
        """The stored versions of a template, ascending, and whether it is retired."""
        versions, retired = [], False
        for key in await self.storage.list_keys(template_prefix(org, name)):
            leaf = key.rsplit("/", 1)[-1]
            if leaf == RETIRED:
                retired = True
            elif leaf.startswith("v") and leaf.endswith(".json") and leaf[1:-5].isdigit():
                versions.append(int(leaf[1:-5]))
        return sorted(versions), retired

    async def _read(self, org: str, name: str, version: int) -> Template | None:
        data = await self.storage.read_bytes(template_key(org, name, version))
        return Template.model_validate_json(data) if data is not None else None

    async def _write(self, org: str, name: str, body: TemplateBody, after: int) -> Template:
        fields = body.model_dump(exclude_unset=True, exclude={"name"})
        for version in range(after + 1, after + 1 + WRITE_TRIES):
            template = Template.model_validate(
                {**fields, "name": name, "version": version, "created_at": datetime.now(UTC)}
            )
            data = template.model_dump_json(exclude_none=True).encode()
            if await self.storage.create_bytes(template_key(org, name, version), data):
                await self.storage.delete(template_prefix(org, name) + RETIRED)
                return template
        raise ApiError(409, "conflict", f"template {name!r} is being changed by another request; try again")

    async def create(self, org: str, body: TemplateCreate) -> Template:
        check(body)
        versions, retired = await self._versions(org, body.name)
        if versions and not retired:
            raise ApiError(
                409, "template-exists", f"a template {body.name!r} exists; PUT makes a new version"
            )
        return await self._write(org, body.name, body, versions[-1] if versions else 0)

    async def update(self, org: str, name: str, body: TemplateBody) -> Template:
        check(body)
        versions, retired = await self._versions(org, name)
        if not versions or retired:
            raise ApiError(404, "not-found", f"no template {name!r}")
        return await self._write(org, name, body, versions[-1])

    async def get(self, org: str, name: str, version: int | None = None) -> Template:
        """The latest version (404 once retired), or the given one (readable after retirement too)."""
        versions, retired = await self._versions(org, name)
        if version is None:
            if not versions or retired:
                raise ApiError(404, "not-found", f"no template {name!r}")
            version = versions[-1]
        template = await self._read(org, name, version) if version in versions else None
        if template is None:
            raise ApiError(404, "not-found", f"no version {version} of template {name!r}")
        return template

    async def delete(self, org: str, name: str) -> None:
        versions, retired = await self._versions(org, name)
        if not versions or retired:
            raise ApiError(404, "not-found", f"no template {name!r}")
        await self.storage.write_bytes(template_prefix(org, name) + RETIRED, b"{}")

    async def list(self, org: str) -> list[Template]:
        """The organization's templates (not retired), each at its latest version, by name."""
        names = sorted({key.split("/")[2] for key in await self.storage.list_keys(template_prefix(org))})
        found = []
        for name in names:
            try:
                found.append(await self.get(org, name))
            except ApiError:
                continue  # retired
        return found

    async def applied(self, org: str, raw: dict[str, Any]) -> tuple[dict[str, Any], Template | None]:
        """A job's fields with its template's applied (400 naming a field), and the template used."""
        if raw.get("template") is None:
            raw.pop("template", None)
            raw.pop("template_version", None)
            return raw, None
        try:
            use = TemplateUse.model_validate(
                {"template": raw.pop("template"), "template_version": raw.pop("template_version", None)}
            )
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0])
            raise ApiError(400, "invalid-input", f"{field}: {exc.errors()[0]['msg']}") from exc
        try:
            template = await self.get(org, use.template, use.template_version)
        except ApiError as exc:
            raise ApiError(400, "invalid-input", f"template: {exc.message}") from exc
        try:
            return apply(template, raw), template
        except TemplateError as exc:
            raise ApiError(400, "template-locked", str(exc)) from exc


def check(body: TemplateBody) -> None:
    """400 for a template whose fields no job could be made with (checked as a job with some input)."""
    fields = body.job_fields()
    if not fields.get("outputs") and not fields.get("thumbnails"):
        return  # the jobs give their outputs
    try:
        JobCreate.model_validate({**fields, "input_url": "https://example.com/input.mp4"})
    except ValidationError as exc:
        raise ApiError(400, "invalid-input", describe_validation(list(exc.errors()))) from exc

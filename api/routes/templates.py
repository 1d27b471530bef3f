"""`/v1/templates`: an organization's saved job templates, versioned (api/services/templates.py)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response

from api.deps import Organization, StorageDep
from api.errors import ERROR_RESPONSES
from api.models import TemplateList
from api.services.templates import Templates
from recast.core.templates import TEMPLATE_NAME_PATTERN, Template, TemplateBody, TemplateCreate

router = APIRouter(prefix="/v1", tags=["templates"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]

NamePath = Path(pattern=TEMPLATE_NAME_PATTERN, description="The template's name.")


@router.post("/templates", status_code=201, response_model=Template, summary="Create a template")
async def create_template(body: TemplateCreate, org: Organization, storage: StorageDep) -> Template:
    """Version 1 of a new template: any job fields, and which of them are `locked`. A name in use → 409
    `template-exists`."""
    return await Templates(storage).create(org, body)


@router.get("/templates", response_model=TemplateList, summary="List templates")
async def list_templates(org: Organization, storage: StorageDep) -> TemplateList:
    return TemplateList(data=await Templates(storage).list(org))


@router.get("/templates/{name}", response_model=Template, summary="Get a template")
async def get_template(
    org: Organization,
    storage: StorageDep,
    name: str = NamePath,
    version: int | None = Query(None, ge=1, description="That version (default: the latest)."),
) -> Template:
    return await Templates(storage).get(org, name, version)


@router.put("/templates/{name}", response_model=Template, summary="Change a template (a new version)")
async def update_template(
    body: TemplateBody, org: Organization, storage: StorageDep, name: str = NamePath
) -> Template:
    """Writes the next version with exactly these fields; earlier versions stay readable."""
    return await Templates(storage).update(org, name, body)


@router.delete("/templates/{name}", status_code=204, summary="Retire a template")
async def delete_template(org: Organization, storage: StorageDep, name: str = NamePath) -> Response:
    """New jobs can no longer name it; its versions stay readable with `?version=`."""
    await Templates(storage).delete(org, name)
    return Response(status_code=204)

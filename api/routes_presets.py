"""`GET /v1/presets`: the preset catalog, each preset with the output it stands for."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import organization
from api.errors import ERROR_RESPONSES
from recast.core import presets
from recast.core.specs import OutputSpec

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)  # type: ignore[arg-type]


class PresetInfo(BaseModel):
    name: str
    description: str
    output: OutputSpec = Field(description='What `{"preset": name}` in `outputs` stands for.')


class PresetList(BaseModel):
    data: list[PresetInfo]
    default: str = Field(description="The preset POST /v1/optimize makes when no output is given.")


def catalog() -> PresetList:
    return PresetList(
        data=[
            PresetInfo(
                name=name, description=p.description, output=OutputSpec.model_validate({"preset": name})
            )
            for name, p in presets.CATALOG.items()
        ],
        default=presets.DEFAULT,
    )


@router.get("/presets", response_model=PresetList, summary="List the output presets")
async def list_presets(_: str = Depends(organization)) -> PresetList:
    return catalog()

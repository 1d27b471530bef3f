"""`GET /v1/presets`: the preset catalog, each preset with the output it stands for."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Organization
from api.errors import ERROR_RESPONSES
from api.models import PresetInfo, PresetList
from recast.core import presets
from recast.core.specs import OutputSpec

router = APIRouter(prefix="/v1", tags=["presets"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


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
async def list_presets(_: Organization) -> PresetList:
    return catalog()

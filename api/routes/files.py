"""`GET /v1/files/{token}`: stream an output from storage to whoever holds a valid signed token (the
token is the credential: no API key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import SettingsDep, StorageDep
from api.errors import ApiError, error_responses
from api.services import files
from recast.infra.storage import content_type_for

router = APIRouter(prefix="/v1", tags=["files"])


@router.get(
    "/files/{token}",
    summary="Download a file with a signed token",
    response_class=StreamingResponse,
    responses=error_responses(403, 404, 410),  # type: ignore[arg-type]
)
async def download_file(token: str, settings: SettingsDep, storage: StorageDep) -> StreamingResponse:
    grant = files.grant(settings, token)
    if grant.folder:
        raise ApiError(404, "not-found", "this token is for a folder: add the file's name to the URL")
    return await files.stream(
        storage, grant.key, grant.content_type, files.content_disposition(grant.filename)
    )


@router.get(
    "/files/{token}/{name:path}",
    summary="Download a file of a folder output (HLS/DASH package, thumbnails) with a signed token",
    description="The token grants the whole folder, so relative URIs inside playlists, MPDs and WebVTT "
    "indexes resolve under it. Files are served `inline` for players and browsers.",
    response_class=StreamingResponse,
    responses=error_responses(403, 404, 410),  # type: ignore[arg-type]
)
async def download_folder_file(
    token: str, name: str, settings: SettingsDep, storage: StorageDep
) -> StreamingResponse:
    grant = files.grant(settings, token)
    key = files.member(grant, name)
    disposition = files.content_disposition(name, "inline")
    return await files.stream(storage, key, content_type_for(name), disposition, grant.key + grant.filename)

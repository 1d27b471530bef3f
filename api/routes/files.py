"""`GET /v1/files/{token}`: stream an output from storage to whoever holds a valid signed token (the
token is the credential: no API key). Range requests and conditional GETs are answered
(api/services/ranges.py), and HEAD says what a GET would send."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import SettingsDep, StorageDep
from api.errors import ApiError, error_responses
from api.services import files
from recast.infra.storage import content_type_for

router = APIRouter(prefix="/v1", tags=["files"])


RANGES = (
    "Seekable: a `Range: bytes=first-last` request is answered `206` with `Content-Range` (several ranges: "
    "the whole file, `200`; a range past the end or malformed: `416` with `Content-Range: bytes */size`). "
    "`ETag` and `Last-Modified` come with every file; `If-None-Match` / `If-Modified-Since` answer `304`, "
    "and `If-Range` serves the range only if the file is unchanged."
)
SERVED = {
    206: {"description": "one range of the file (`Content-Range`)"},
    304: {"description": "not modified: the client's copy is current"},
    **error_responses(403, 404, 410, 416),
}


@router.get(
    "/files/{token}",
    summary="Download a file with a signed token",
    description=RANGES,
    response_class=StreamingResponse,
    responses=SERVED,  # type: ignore[arg-type]
)
async def download_file(token: str, request: Request, settings: SettingsDep, storage: StorageDep) -> Response:
    grant = files.grant(settings, token)
    if grant.folder:
        raise ApiError(404, "not-found", "this token is for a folder: add the file's name to the URL")
    return await files.stream(
        request, storage, grant.key, grant.content_type, files.content_disposition(grant.filename)
    )


# HEAD answers what GET would, without the body (players and download managers ask the size first).
router.head("/files/{token}", include_in_schema=False)(download_file)


@router.get(
    "/files/{token}/{name:path}",
    summary="Download a file of a folder output (HLS/DASH package, thumbnails) with a signed token",
    description="The token grants the whole folder, so relative URIs inside playlists, MPDs and WebVTT "
    "indexes resolve under it. Files are served `inline` for players and browsers. " + RANGES,
    response_class=StreamingResponse,
    responses=SERVED,  # type: ignore[arg-type]
)
async def download_folder_file(
    token: str, name: str, request: Request, settings: SettingsDep, storage: StorageDep
) -> Response:
    grant = files.grant(settings, token)
    key = files.member(grant, name)
    disposition = files.content_disposition(name, "inline")
    return await files.stream(
        request, storage, key, content_type_for(name), disposition, grant.key + grant.filename
    )


router.head("/files/{token}/{name:path}", include_in_schema=False)(download_folder_file)

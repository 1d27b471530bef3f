"""`GET /v1/files/{token}`: stream an output from storage to whoever holds a valid signed token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.errors import ApiError
from recast.signing import TokenError, verify
from recast.storage import Storage

router = APIRouter(prefix="/v1")


@router.get("/files/{token}", summary="Download a file with a signed token", response_class=StreamingResponse)
async def download_file(token: str, request: Request) -> StreamingResponse:
    try:
        grant = verify(token, request.app.state.settings.signing_secret)
    except TokenError as exc:
        raise ApiError(403, exc.code, str(exc)) from exc
    storage: Storage = request.app.state.storage
    size = await storage.size(grant.key)
    if size is None:
        raise ApiError(404, "not-found", "the file no longer exists")
    quoted = grant.filename.replace('"', "")
    return StreamingResponse(
        storage.iter_bytes(grant.key),
        media_type=grant.content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{quoted}"',
            "Cache-Control": "no-store",
        },
    )

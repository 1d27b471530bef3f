"""`/v1/uploads`: upload a large input first, then submit a job with `input_url: upload://{upload_id}`
(how the bytes travel, and resuming: api/services/uploads.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import BaseUrl, Organization, SettingsDep, StorageDep, upload_rate_limit
from api.errors import ERROR_RESPONSES
from api.limits import RATE_LIMITED
from api.models import UploadCreate, UploadProgress, UploadTicket
from api.services import uploads
from recast.infra.uploads import UPLOAD_SCHEME

router = APIRouter(prefix="/v1", tags=["uploads"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadTicket,
    summary="Start an upload",
    dependencies=[Depends(upload_rate_limit)],
    responses={429: RATE_LIMITED},
)
async def create_upload(
    body: UploadCreate, org: Organization, settings: SettingsDep, storage: StorageDep, base_url: BaseUrl
) -> UploadTicket:
    return await uploads.create(storage, settings, base_url, org, body)


@router.head(
    "/uploads/{upload_id}",
    summary="How much of an upload has arrived",
    description="`Upload-Offset`: bytes stored so far (resume from there); `Upload-Length`: the declared size.",
)
async def upload_status(
    upload_id: str, settings: SettingsDep, storage: StorageDep, token: str = Query(max_length=1024)
) -> Response:
    manifest = await uploads.granted(storage, settings, upload_id, token)
    received = await storage.size(manifest.key) or 0
    return Response(status_code=200, headers=uploads.progress_headers(received, manifest.size))


@router.put(
    "/uploads/{upload_id}",
    response_model=UploadProgress,
    summary="Send an upload's bytes (local storage)",
    description="The whole file, or one part with `Content-Range: bytes first-last/size` starting where the "
    "upload stands (`HEAD` tells). More bytes than declared → 413; a part not starting at the current "
    "offset → 409 `offset-mismatch` with `Upload-Offset`.",
)
async def put_upload(
    upload_id: str,
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    token: str = Query(max_length=1024),
) -> UploadProgress:
    manifest = await uploads.granted(storage, settings, upload_id, token)
    received = await uploads.receive(request, storage, manifest)
    return UploadProgress(
        upload_id=upload_id,
        received=received,
        size=manifest.size,
        complete=received == manifest.size,
        input_url=UPLOAD_SCHEME + upload_id,
    )

"""`/v1/tus/`: resumable uploads with the tus 1.0 protocol, for tus-js-client, Uppy and other tus
clients (the protocol, and why our own server side: api/services/tus.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api.deps import BaseUrl, Organization, SettingsDep, StorageDep, upload_rate_limit
from api.errors import error_responses
from api.limits import RATE_LIMITED
from api.models import TusUpload
from api.services import tus

router = APIRouter(
    prefix="/v1/tus",
    tags=["tus"],
    dependencies=[Depends(tus.check_version)],
    responses=error_responses(401, 403, 412),  # type: ignore[arg-type]
)
PROTOCOL = (
    "tus 1.0 (https://tus.io/protocols/resumable-upload): every request but OPTIONS carries "
    "`Tus-Resumable: 1.0.0` (else 412) and the API key."
)


@router.options(
    "/",
    status_code=204,
    summary="tus: what the server supports",
    description="`Tus-Version`, "
    "`Tus-Extension` (creation, termination, expiration) and `Tus-Max-Size` (RECAST_MAX_UPLOAD_BYTES); "
    "no API key needed.",
)
async def tus_options(settings: SettingsDep) -> Response:
    return Response(status_code=204, headers=tus.discovery(settings))


router.options("/{upload_id}", status_code=204, include_in_schema=False)(tus_options)


@router.post(
    "/",
    status_code=201,
    response_model=TusUpload,
    summary="tus: create an upload",
    description=PROTOCOL + " `Upload-Length` (bytes, at most RECAST_MAX_UPLOAD_BYTES) and optional "
    "`Upload-Metadata` (`filename`, `filetype`); answers 201 with `Location`, the upload's URL. "
    "Rate-limited like `POST /v1/uploads`.",
    dependencies=[Depends(upload_rate_limit)],
    responses={429: RATE_LIMITED, **error_responses(400, 413)},  # type: ignore[dict-item]
)
async def tus_create(
    request: Request,
    response: Response,
    org: Organization,
    settings: SettingsDep,
    storage: StorageDep,
    base_url: BaseUrl,
) -> TusUpload:
    upload = await tus.create(request, storage, settings, base_url, org)
    response.headers.update(tus.created_headers(upload))
    return upload


# `POST /v1/tus` too: tus clients are given the endpoint as written, with or without the slash.
router.post("", status_code=201, response_model=TusUpload, include_in_schema=False,
            dependencies=[Depends(upload_rate_limit)])(tus_create)  # fmt: skip


@router.head(
    "/{upload_id}",
    summary="tus: how much of an upload has arrived",
    description=PROTOCOL + " `Upload-Offset`: bytes stored (send the rest from there); `Upload-Length`.",
    responses=error_responses(404, 410),  # type: ignore[arg-type]
)
async def tus_head(upload_id: str, org: Organization, storage: StorageDep) -> Response:
    manifest = await tus.manifest_of(storage, org, upload_id)
    return Response(status_code=200, headers=await tus.status(storage, manifest))


@router.patch(
    "/{upload_id}",
    status_code=204,
    summary="tus: send bytes of an upload",
    description=PROTOCOL + " `Content-Type: application/offset+octet-stream`, `Upload-Offset` where the "
    "upload stands (else 409 with the current `Upload-Offset`); answers 204 with the new `Upload-Offset`. "
    "What a cut connection delivered is kept. Once every byte is there the upload is a job's "
    "`input_url: upload://{upload_id}`.",
    responses=error_responses(400, 404, 409, 410, 413, 415),  # type: ignore[arg-type]
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {tus.PATCH_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def tus_patch(upload_id: str, request: Request, org: Organization, storage: StorageDep) -> Response:
    manifest = await tus.manifest_of(storage, org, upload_id)
    received = await tus.receive(request, storage, manifest)
    return Response(status_code=204, headers={"Tus-Resumable": tus.VERSION, "Upload-Offset": str(received)})


@router.delete(
    "/{upload_id}",
    status_code=204,
    summary="tus: delete an upload",
    description=PROTOCOL + " Removes the upload and its bytes (tus termination).",
    responses=error_responses(404),  # type: ignore[arg-type]
)
async def tus_delete(upload_id: str, org: Organization, storage: StorageDep) -> Response:
    manifest = await tus.manifest_of(storage, org, upload_id)
    await tus.terminate(storage, manifest)
    return Response(status_code=204, headers={"Tus-Resumable": tus.VERSION})


@router.post("/{upload_id}", include_in_schema=False)
async def tus_override(upload_id: str, request: Request, org: Organization, storage: StorageDep) -> Response:
    """tus-js-client's `overridePatchMethod` (for networks that drop PATCH): a POST saying
    `X-HTTP-Method-Override: PATCH` (or `DELETE`) is that request."""
    override = request.headers.get("x-http-method-override", "").upper()
    if override == "PATCH":
        return await tus_patch(upload_id, request, org, storage)
    if override == "DELETE":
        return await tus_delete(upload_id, org, storage)
    raise tus.fail(
        405, "method-not-allowed", "POST an upload only with X-HTTP-Method-Override: PATCH or DELETE"
    )

"""A submitted `input_url` (or one of `inputs`) → the job's InputSource, with the storage checks."""

from __future__ import annotations

from datetime import UTC, datetime

from api.errors import ApiError
from recast.core.payloads import InputSource
from recast.core.requests import JobCreate
from recast.infra.storage import Storage, parse_object_url
from recast.infra.uploads import UPLOAD_SCHEME, UploadError, resolve, upload_expires_at


async def resolve_input(storage: Storage, org: str, input_url: str) -> InputSource:
    """The job's input source for an `input_url`: an upload becomes the object it stored (no fetch
    step); an `s3://` / `gs://` object must not be another organization's file in Recast's storage."""
    if input_url.startswith(UPLOAD_SCHEME):
        upload_id = input_url[len(UPLOAD_SCHEME) :]
        try:
            manifest, stored = await resolve(storage, org, upload_id)
        except UploadError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from exc
        ttl_s = storage.settings.output_ttl_s if storage.settings else 0
        expires_at = upload_expires_at(manifest, ttl_s)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            # The cleanup deletes it as soon as no running job uses it: no new job may start using it.
            raise ApiError(
                410, "expired", f"input_url: upload {upload_id} expired at {expires_at.isoformat()}"
            )
        return InputSource(url=input_url, storage_key=manifest.key, filename=manifest.filename, size=stored)
    scheme = input_url.partition("://")[0].lower()
    if scheme in ("s3", "gs"):
        try:
            obj = parse_object_url(input_url)
        except ValueError as exc:
            raise ApiError(400, "invalid-input", f"input_url: {exc}") from exc
        if storage.foreign_object(obj, org):
            raise ApiError(
                400,
                "invalid-input",
                "input_url: that object is in Recast's storage outside your organization's files",
            )
    return InputSource(url=input_url)


async def resolve_numbered(storage: Storage, org: str, index: int, url: str) -> InputSource:
    """resolve_input for one of `inputs`, its refusals naming the input's index."""
    try:
        return await resolve_input(storage, org, url)
    except ApiError as exc:
        message = exc.message.removeprefix("input_url: ")
        raise ApiError(exc.status, exc.code, f"inputs[{index}]: {message}", exc.headers) from exc


async def check_watermarks(storage: Storage, org: str, req: JobCreate) -> None:
    """Each output's watermark image checked as an input is: an upload is the organization's own and
    complete, an `s3://` / `gs://` object is not another organization's. The worker fetches it."""
    for i, spec in enumerate(req.outputs):
        if spec.watermark is not None:
            try:
                await resolve_input(storage, org, spec.watermark.image)
            except ApiError as exc:
                message = exc.message.removeprefix("input_url: ")
                raise ApiError(
                    exc.status, exc.code, f"outputs[{i}].watermark.image: {message}", exc.headers
                ) from exc

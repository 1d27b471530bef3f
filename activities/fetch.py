"""fetch_input: stream a remote input into storage (uploads are streamed there by the API already)."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import unquote, urlsplit

import httpx
import opendal
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.core import contract
from recast.core.payloads import FetchRequest, FetchResult
from recast.infra import net, uploads
from recast.infra.storage import CHUNK, OBJECT_SCHEMES, input_key, parse_object_url
from recast.infra.uploads import UPLOAD_SCHEME

# 408/429 are "try later"; every other 4xx will not change on retry.
RETRYABLE_STATUS = {408, 425, 429}
log = logging.getLogger("recast.activity")


class FetchActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.FETCH_INPUT)
    async def fetch_input(self, req: FetchRequest) -> FetchResult:
        source = req.source
        if not source.url:
            raise ApplicationError("fetch_input needs a source URL", type="invalid-input", non_retryable=True)
        scheme = urlsplit(source.url).scheme.lower()
        if scheme == "upload":
            return await self._uploaded(req.organization, source.url[len(UPLOAD_SCHEME) :])
        # Logged redacted (recast.infra.logs): a signed URL's query and a URL's credentials never show.
        log.info("fetching %s", source.url)
        name = unquote(urlsplit(source.url).path.rsplit("/", 1)[-1]) or "input"
        key = input_key(req.organization, req.job_id, name, req.folder)
        if scheme in OBJECT_SCHEMES:
            size = await self._copy_object(req.organization, source.url, key)
        elif scheme in ("http", "https"):
            size = await self._download(source.url, key)
        else:
            raise ApplicationError(
                f"input URLs are http(s)://, s3://, gs:// or upload://, not {scheme}://",
                type="invalid-input",
                non_retryable=True,
            )
        return FetchResult(storage_key=key, size=size)

    async def fetch_to(self, organization: str, url: str, key: str, limit: int) -> int:
        """Stream `url` (http(s), s3, gs) into `key`, at most `limit` bytes, with the same guards as an
        input (address rules on every hop, the organization's own objects only): for other files a job
        names, such as a watermark image. Returns the bytes written. Sends no heartbeats of its own:
        the calling activity's heartbeats carry its progress, which a byte count would replace."""
        scheme = urlsplit(url).scheme.lower()
        if scheme in OBJECT_SCHEMES:
            return await self._copy_object(organization, url, key, limit, quiet=True)
        if scheme in ("http", "https"):
            return await self._download(url, key, limit, quiet=True)
        raise ApplicationError(
            f"{scheme}:// URLs cannot be fetched", type="invalid-input", non_retryable=True
        )

    async def _uploaded(self, organization: str, upload_id: str) -> FetchResult:
        """An upload is already in storage: use it in place, once it is the job organization's own
        and complete (a job started directly, e.g. as a child workflow, skipped the API's check)."""
        try:
            manifest, size = await uploads.resolve(self.deps.storage, organization, upload_id)
        except uploads.UploadError as exc:
            code = "input-unreachable" if exc.code == "not-found" else exc.code
            raise ApplicationError(exc.message, type=code, non_retryable=True) from exc
        return FetchResult(storage_key=manifest.key, size=size)

    async def _copy_object(
        self, organization: str, url: str, key: str, limit: int | None = None, quiet: bool = False
    ) -> int:
        """Stream an `s3://` / `gs://` object into the job's input key through OpenDAL, with the
        configured endpoint and credentials, never holding more than a chunk in memory."""
        storage = self.deps.storage
        limit = limit or self.deps.settings.max_upload_bytes
        try:
            obj = parse_object_url(url)
        except ValueError as exc:
            raise ApplicationError(str(exc), type="invalid-input", non_retryable=True) from exc
        if storage.foreign_object(obj, organization):
            raise ApplicationError(
                "the input is in Recast's storage outside the organization's files",
                type="invalid-input",
                non_retryable=True,
            )
        source = storage.source(obj)
        written, last_beat = 0, 0.0
        try:
            meta = await source.stat(obj.key)
            if int(meta.content_length) > limit:
                raise _too_large(limit)
            reader = await source.open(obj.key, "rb")
            writer = await storage.op.open(key, "wb")
            try:
                while chunk := await reader.read(CHUNK):
                    written += len(chunk)
                    if written > limit:  # the object may have grown since the stat
                        raise _too_large(limit)
                    await writer.write(bytes(chunk))
                    if not quiet and time.monotonic() - last_beat > 1:
                        activity.heartbeat({"bytes": written})
                        last_beat = time.monotonic()
            finally:
                await reader.close()
                await writer.close()
        except (opendal.exceptions.NotFound, opendal.exceptions.PermissionDenied) as exc:
            # Neither changes on retry: fail the job once, with what the store said.
            raise ApplicationError(
                f"could not read {obj.scheme}://{obj.bucket}/{obj.key}: {str(exc).splitlines()[0]}",
                type="input-unreachable",
                non_retryable=True,
            ) from exc
        except ApplicationError:
            await storage.delete(key)
            raise
        except opendal.exceptions.Error as exc:
            raise ApplicationError(
                f"could not read {obj.scheme}://{obj.bucket}/{obj.key}: {str(exc).splitlines()[0]}",
                type="input-unreachable",
            ) from exc
        return written

    async def _download(self, url: str, key: str, limit: int | None = None, quiet: bool = False) -> int:
        limit = limit or self.deps.settings.max_upload_bytes
        storage = self.deps.storage
        written = 0
        last_beat = 0.0
        max_seconds = self.deps.settings.fetch_timeout_s
        # Every connection, the first and each redirect's, goes through the SSRF guard: it resolves the
        # host once, checks each address and connects to the address it checked (recast/infra/net.py).
        policy = net.policy_for(self.deps.settings.url_allowlist)
        try:
            # One deadline for the whole download: a server dripping bytes never trips a read timeout.
            async with asyncio.timeout(max_seconds), net.guarded_client(policy, timeout=30) as client:
                resp = await _get_following_redirects(client, url)
                try:
                    if resp.status_code >= 400:
                        raise ApplicationError(
                            f"fetching the input returned HTTP {resp.status_code}",
                            type="input-unreachable",
                            non_retryable=resp.status_code < 500 and resp.status_code not in RETRYABLE_STATUS,
                        )
                    declared = int(resp.headers.get("content-length") or 0)
                    if declared > limit:
                        raise _too_large(limit)
                    writer = await storage.op.open(key, "wb")
                    try:
                        async for chunk in resp.aiter_bytes(1024 * 1024):
                            written += len(chunk)
                            if written > limit:  # enforced while streaming, whatever the header claimed
                                raise _too_large(limit)
                            await writer.write(chunk)
                            if not quiet and time.monotonic() - last_beat > 1:
                                activity.heartbeat({"bytes": written})
                                last_beat = time.monotonic()
                    finally:
                        await writer.close()
                finally:
                    await resp.aclose()
        except net.ForbiddenUrl as exc:
            # Refused before any byte was read: nothing stored. Retrying would be refused again.
            raise ApplicationError(
                f"the input URL is refused: {exc}", type="forbidden-url", non_retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise ApplicationError(f"could not fetch the input: {exc}", type="input-unreachable") from exc
        except TimeoutError as exc:
            await storage.delete(key)
            raise ApplicationError(
                f"the input took longer than {max_seconds:g} s to download (RECAST_FETCH_TIMEOUT)",
                type="too-slow",
                non_retryable=True,
            ) from exc
        except ApplicationError:
            await storage.delete(key)
            raise
        return written


MAX_REDIRECTS = 5


async def _get_following_redirects(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET `url` (streamed), following at most MAX_REDIRECTS redirects one hop at a time, so a refusal
    can say which hop went where; each hop connects through the client's SSRF guard anew."""
    request = client.build_request("GET", url)
    for hop in range(MAX_REDIRECTS + 1):
        try:
            resp = await client.send(request, stream=True)
        except net.ForbiddenUrl as exc:
            if hop == 0:
                raise
            raise net.ForbiddenUrl(
                f"redirect {hop} goes to {net.describe_target(request.url)}, and {exc}"
            ) from exc
        if resp.next_request is None:
            return resp
        await resp.aclose()
        request = resp.next_request
        if request.url.scheme not in ("http", "https"):
            raise net.ForbiddenUrl(
                f"redirect {hop + 1} goes to a {request.url.scheme}: URL (only http(s) is followed)"
            )
    raise ApplicationError(
        f"the input URL redirected more than {MAX_REDIRECTS} times",
        type="input-unreachable",
        non_retryable=True,
    )


def _too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        f"the input is larger than the limit of {limit} bytes", type="too-large", non_retryable=True
    )

"""fetch_input: stream a remote input into storage (uploads are streamed there by the API already)."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.models import FetchRequest, FetchResult
from recast.storage import input_key

# 408/429 are "try later"; every other 4xx will not change on retry.
RETRYABLE_STATUS = {408, 425, 429}


class FetchActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="fetch_input")
    async def fetch_input(self, req: FetchRequest) -> FetchResult:
        source = req.source
        if not source.url:
            raise ApplicationError("fetch_input needs a source URL", type="invalid-input", non_retryable=True)
        name = unquote(urlsplit(source.url).path.rsplit("/", 1)[-1]) or "input"
        key = input_key(req.organization, req.job_id, name)
        size = await self._download(source.url, key)
        return FetchResult(storage_key=key, size=size)

    async def _download(self, url: str, key: str) -> int:
        limit = self.deps.settings.max_upload_bytes
        storage = self.deps.storage
        written = 0
        last_beat = 0.0
        try:
            async with (
                httpx.AsyncClient(follow_redirects=True, max_redirects=5, timeout=30) as client,
                client.stream("GET", url) as resp,
            ):
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
                        if time.monotonic() - last_beat > 1:
                            activity.heartbeat({"bytes": written})
                            last_beat = time.monotonic()
                finally:
                    await writer.close()
        except httpx.HTTPError as exc:
            raise ApplicationError(f"could not fetch the input: {exc}", type="input-unreachable") from exc
        except ApplicationError:
            await storage.delete(key)
            raise
        return written


def _too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        f"the input is larger than the limit of {limit} bytes", type="too-large", non_retryable=True
    )

"""The watermark image of an output (`watermark.image`), fetched and checked like an input before the
output's ffmpeg runs: an `upload://` is the organization's own upload, a URL is streamed through
fetch_input's machinery (activities/fetch.py: address rules on every connection and redirect, the
organization's own objects only) into the job's input folder, at most RECAST_WATERMARK_MAX_BYTES; then
probed: a still picture of at most 4096 × 4096 pixels (WATERMARK_MAX_PIXELS).

Fetched by the output activity itself rather than as a step of the workflow: the image is small, only
outputs with a watermark pay for it, and the workflow (and the histories of running jobs) stays as it is.
A retry fetches it again, on whichever worker runs the retry.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.fetch import FetchActivities
from activities.scratch import local_input
from recast.core.payloads import EncodeRequest
from recast.core.watermark import WATERMARK_MAX_PIXELS
from recast.infra import uploads
from recast.infra.storage import input_key
from recast.media import probe, watermark
from recast.media.tools import MediaError


async def watermark_image(deps: Deps, req: EncodeRequest) -> Path | None:
    """The local path of the output's watermark image, checked; None when it has none."""
    spec = req.spec.watermark
    if spec is None:
        return None
    settings = deps.settings
    limit = settings.watermark_max_bytes
    url = spec.image
    try:
        if url.startswith(uploads.UPLOAD_SCHEME):
            try:
                manifest, size = await uploads.resolve(
                    deps.storage, req.organization, url[len(uploads.UPLOAD_SCHEME) :]
                )
            except uploads.UploadError as exc:
                raise ApplicationError(exc.message, type="invalid-watermark", non_retryable=True) from exc
            if size > limit:
                raise ApplicationError(
                    f"it is larger than the limit of {limit} bytes", type="too-large", non_retryable=True
                )
            key = manifest.key
        else:
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "watermark"
            key = input_key(req.organization, req.job_id, name, f"watermark-{req.output_id}")
            size = await FetchActivities(deps).fetch_to(req.organization, url, key, limit)
    except ApplicationError as exc:
        # The fetch's own words name "the input"; say which file of the job it was.
        message = exc.message.replace("the input", "the image")
        raise ApplicationError(
            f"watermark image: {message}", type=exc.type, non_retryable=exc.non_retryable
        ) from exc
    path = await local_input(deps.storage, deps.scratch, key)
    try:
        raw = await deps.probes.probe_raw(path)
        watermark.check_image(probe.input_metadata(raw, size), WATERMARK_MAX_PIXELS)
    except MediaError as exc:
        message = str(exc).replace("the input", "the image")
        raise MediaError("invalid-watermark", f"watermark image: {message}") from exc
    return path

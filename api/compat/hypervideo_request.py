"""Hypervideo's submission fields → a native submission, and its error codes.

Field names, ranges and defaults are those of Hypervideo's own SDK (`@hypervideo-dev/sdk`, which sends
arrays and objects as JSON strings in its multipart form): `file` / `url` / `inputStorageId`, `format` or
`formats`, `tolerance` (0–100, default 30), `chromaKey` `{r, g, b}`, `fps` (1–60), `quality` (0–100,
only for formats Recast does not make), `webhookUrl`.
"""

from __future__ import annotations

import json
from typing import Any

from api.errors import ApiError
from api.multipart_stream import StoredUpload
from api.services.submission import Translate
from recast.core.background import RgbColor

# Hypervideo's output formats Recast makes → the native output that makes each: VP9 with an alpha channel
# in WebM, and the stacked-alpha layout (colour above its mask) in H.264/MP4, which every browser decodes.
FORMATS: dict[str, dict[str, Any]] = {
    "webm": {"type": "webm", "video": {"codec": "vp9"}, "layout": "alpha"},
    "stacked-alpha": {"type": "mp4", "video": {"codec": "h264"}, "layout": "stacked"},
}
# Its formats Recast does not make (animated images with alpha, ProRes 4444): refused by name.
UNSUPPORTED_FORMATS = ("webp", "apng", "mov")
# Asked for nothing: both, Hypervideo's default.
DEFAULT_FORMATS = ["webm", "stacked-alpha"]
DEFAULT_TOLERANCE = 30
# Job.compat of a Hypervideo job: which API made it, and which key (the first 32 hex digits of its
# SHA-256, as the keys file stores keys): Hypervideo shows a job only to the key that submitted it.
API = "hypervideo"
KEY = "key"

# Recast's error codes → Hypervideo's (its SDK's ErrorCode names where one fits).
ERROR_CODES = {
    "invalid-input": "INVALID_REQUEST",
    "unsupported-media-type": "INVALID_REQUEST",
    "forbidden-url": "INVALID_URL",
    "unauthorized": "UNAUTHORIZED",
    "organization-mismatch": "UNAUTHORIZED",
    "not-found": "NOT_FOUND",
    "too-large": "FILE_TOO_LARGE",
    "rate-limited": "RATE_LIMITED",
    "unavailable": "SERVICE_UNAVAILABLE",
    "internal": "UNKNOWN_ERROR",
    "expired": "NOT_FOUND",
}
# A failed job's Recast error code → Hypervideo's: the input is not a usable video, or processing failed.
INVALID_VIDEO = {
    "invalid-media",
    "corrupt-input",
    "unsupported-codec",
    "no-video-stream",
    "image-input",
    "too-large",
    "too-long",
    "invalid-clip",
}
JOB_CODES = {"input-unreachable": "INVALID_URL", "forbidden-url": "INVALID_URL", "timeout": "TIMEOUT"}


def error_code(code: str) -> str:
    """Hypervideo's code for a Recast error code (codes raised here are Hypervideo's already)."""
    if code.isupper():
        return code
    return ERROR_CODES.get(code, code.upper().replace("-", "_"))


def job_error_code(code: str) -> str:
    return "INVALID_VIDEO" if code in INVALID_VIDEO else JOB_CODES.get(code, "PROCESSING_FAILED")


def formats_of(formats: object, single: object) -> list[str]:
    """`formats` (a list, a JSON array as the SDK sends it, or comma-separated) or `format` →
    the formats asked, in order; 400 `INVALID_FORMATS` naming the supported ones for anything else."""
    if formats not in (None, "") and single not in (None, ""):
        raise ApiError(400, "INVALID_REQUEST", "Cannot specify both 'format' and 'formats'")
    given = formats if formats not in (None, "") else single
    if given in (None, ""):
        return list(DEFAULT_FORMATS)
    if isinstance(given, str):
        text = given.strip()
        if text.startswith("["):
            try:
                given = json.loads(text)
            except ValueError:
                raise ApiError(400, "INVALID_FORMATS", "formats: not a valid JSON array") from None
        else:
            given = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(given, list) or not given or not all(isinstance(f, str) for f in given):
        raise ApiError(400, "INVALID_FORMATS", "formats: a non-empty list of " + ", ".join(FORMATS))
    for name in given:
        if name not in FORMATS:
            why = "is not made by this server" if name in UNSUPPORTED_FORMATS else "is not a format"
            raise ApiError(400, "INVALID_FORMATS", f"format {name!r} {why}; supported: {', '.join(FORMATS)}")
    return list(dict.fromkeys(given))


def output_format(
    name: str, background: dict[str, object], framerate: int | None = None
) -> dict[str, object]:
    """The native output spec (JSON) making Hypervideo format `name`, keying out `background`'s colour."""
    spec = FORMATS[name]
    video = dict(spec["video"])
    if framerate:
        video["framerate"] = framerate
    return {"type": spec["type"], "video": video, "background": {**background, "layout": spec["layout"]}}


def _integer(raw: dict[str, object], name: str, low: int, high: int, code: str) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer() or not low <= number <= high:
        raise ApiError(400, code, f"{name} must be an integer between {low} and {high}, got {value!r}")
    return int(number)


def _chroma_key(value: object) -> str | None:
    """`chromaKey` `{r, g, b}` (a JSON string in a form) → `#RRGGBB`."""
    if value in (None, ""):
        return None
    try:
        rgb = json.loads(value) if isinstance(value, str) else value
        parts = [rgb[c] for c in "rgb"]  # type: ignore[index]
    except (ValueError, TypeError, KeyError):
        raise ApiError(400, "INVALID_CHROMA_KEY", "chromaKey must be {r, g, b}") from None
    if not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255 for p in parts):
        raise ApiError(400, "INVALID_CHROMA_KEY", "chromaKey: r, g and b are integers between 0 and 255")
    return RgbColor.of(*parts).hex


def translator() -> Translate:
    """Hypervideo's fields → the native submission: one output per format, each keying the background
    out. Fields it does not know are ignored."""

    async def translate(raw: dict[str, object], upload: StoredUpload | None) -> dict[str, object]:
        uploaded = upload is not None
        formats = formats_of(raw.get("formats"), raw.get("format"))
        tolerance = _integer(raw, "tolerance", 0, 100, "INVALID_TOLERANCE")
        fps = _integer(raw, "fps", 1, 60, "INVALID_FPS")
        _integer(raw, "quality", 0, 100, "INVALID_QUALITY")  # only for webp/apng, which are refused
        # tolerance 0–100 → colorkey similarity 0.01–0.5: its default 30 is the native default 0.15;
        # above 0.5 (an RGB distance of half the cube) nearly every colour would count as background.
        background: dict[str, object] = {
            "similarity": max(0.01, (DEFAULT_TOLERANCE if tolerance is None else tolerance) / 200)
        }
        if color := _chroma_key(raw.get("chromaKey")):
            background["color"] = color
        native: dict[str, object] = {"outputs": [output_format(name, background, fps) for name in formats]}
        if isinstance(raw.get("webhookUrl"), str) and raw["webhookUrl"]:
            native["webhook_url"] = raw["webhookUrl"]
        sources = [name for name in ("url", "inputStorageId") if raw.get(name) not in (None, "")]
        if uploaded:
            sources.insert(0, "file")
        if len(sources) != 1:
            given = f" (got {', '.join(sources)})" if sources else ""
            raise ApiError(
                400, "INVALID_REQUEST", f"Either 'file', 'url', or 'inputStorageId' is required{given}"
            )
        if sources == ["url"]:
            native["input_url"] = raw["url"]
        elif sources == ["inputStorageId"]:
            native["input_url"] = f"upload://{raw['inputStorageId']}"  # an upload made with POST /v1/uploads
        return native

    return translate

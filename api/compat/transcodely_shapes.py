"""Transcodely's shapes: a `CreateJobRequest` → a native submission, a native Job → Transcodely's Job
object, a native error → a Connect error. Pure translation for api/compat/transcodely.py (no I/O).

Transcodely speaks Connect-RPC JSON: snake_case fields, lowercase enum values, and proto3 defaults
(`""`, `0`, `false`, `[]`, `"unspecified"`) meaning "not set" — its SDKs send every field, defaults
included, so a default here is the same as an absent field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from api.errors import ApiError
from recast.core.formats import OutputType
from recast.core.job import Job, Output, OutputStatus

API = "transcodely"
# Job.compat keys
OUTPUT_ORIGIN = "output_origin_id"
THUMBNAILS = "thumbnails"

SINGLE_FILE = {"mp4", "webm", "mkv", "mov"}
STREAMING = {"hls", "dash"}
VARIANT_FIELDS = ("codec", "resolution", "quality", "framerate", "width", "height", "bitrate")
UNSUPPORTED_VARIANT = ("h264", "h265", "vp9", "av1", "hdr")
UNSUPPORTED_OUTPUT = ("subtitle_tracks", "drm", "content_aware", "watermark", "path_template")
UNSUPPORTED_JOB = ("input_origin_id", "input_path", "input_video_id", "app_id")
THUMBNAIL_FORMATS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp"}


def unset(value: object) -> bool:
    """A proto3 default: not set."""
    return value is None or value in ("", 0, False, "unspecified") or value == [] or value == {}


def given(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a message that are set."""
    return {k: v for k, v in data.items() if not unset(v)}


def bad(field: str, description: str) -> ApiError:
    return ApiError(400, "invalid-input", f"{field}: {description}")


def message(value: object, where: str) -> dict[str, Any]:
    """A nested message: a JSON object, or unset."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(where, "must be an object")
    return value


def repeated(value: object, where: str) -> list[Any]:
    """A repeated field: a JSON array, or unset."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(where, "must be an array")
    return value


def _variant(v: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise bad(where, "must be an object")
    v = given(v)
    for name in UNSUPPORTED_VARIANT:
        if name in v and (not isinstance(v[name], dict) or given(v[name])):
            raise bad(f"{where}.{name}", "codec-specific options are not supported by this server")
    extra = sorted(set(v) - set(VARIANT_FIELDS) - set(UNSUPPORTED_VARIANT))
    if extra:
        raise bad(f"{where}.{extra[0]}", "unknown field")
    return {k: v[k] for k in VARIANT_FIELDS if k in v}


def _outputs(spec: dict[str, Any], i: int) -> list[dict[str, Any]]:
    """One Transcodely output → native outputs: a single-file output makes one per video variant; an
    hls/dash output is one native ladder of its variants."""
    where = f"outputs[{i}]"
    if not isinstance(spec, dict):
        raise bad(where, "must be an object")
    spec = given(spec)
    for name in UNSUPPORTED_OUTPUT:
        if name in spec:
            raise bad(f"{where}.{name}", "not supported by this server")
    kind = spec.get("type")
    if kind == "adaptive":
        raise bad(f"{where}.type", "adaptive is not supported by this server; use hls or dash")
    if kind is not None and (not isinstance(kind, str) or kind not in SINGLE_FILE | STREAMING):
        raise bad(f"{where}.type", "one of mp4, webm, mkv, mov, hls, dash")
    base: dict[str, Any] = {}
    if kind:
        base["type"] = kind
    if "preset" in spec:
        base["preset"] = spec["preset"]
    segments = given(message(spec.get("segments"), f"{where}.segments"))
    if "duration" in segments:
        base["segments"] = {"duration": segments["duration"]}
    if spec.get("disable_audio"):
        base["audio"] = {"enabled": False}
    tracks = repeated(spec.get("audio"), f"{where}.audio")
    if len(tracks) > 1:
        raise bad(f"{where}.audio", "one audio track per output on this server")
    variants = repeated(spec.get("video"), f"{where}.video")
    if not 1 <= len(variants) <= 20 and "preset" not in base:
        raise bad(f"{where}.video", "1 to 20 video variants")
    native = [_variant(v, f"{where}.video[{j}]") for j, v in enumerate(variants)]
    if kind in STREAMING or not native:
        return [{**base, "video": native} if native else base]
    return [{**base, "video": [v]} for v in native]


def _thumbnail(t: dict[str, Any], i: int) -> dict[str, Any]:
    """A Transcodely ThumbnailSpec → a native thumbnails spec."""
    where = f"thumbnails[{i}]"
    t = given(message(t, where))
    mode = t.get("mode", "single")
    native: dict[str, Any] = {}
    fmt = t.get("format", "jpeg")
    if fmt not in THUMBNAIL_FORMATS:
        raise bad(f"{where}.format", "one of jpeg, png, webp")
    native["format"] = THUMBNAIL_FORMATS[fmt]
    if "width" in t:
        native["width"] = t["width"]
    if "quality" in t and native["format"] != "png":
        native["quality"] = t["quality"]
    if mode == "single":
        native["times"] = [t.get("timestamp", 0)]
    elif mode == "timestamps":
        native["times"] = t.get("timestamps", [])
    elif mode in ("interval", "sprite"):
        native["interval"] = t.get("interval_seconds", 10)
        if mode == "sprite":
            native["sprite"] = {"columns": t["sprite_columns"]} if "sprite_columns" in t else True
    else:
        raise bad(f"{where}.mode", "one of single, interval, timestamps, sprite")
    return native


def create_request(body: dict[str, Any], header_key: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """A CreateJobRequest → (the native submission's fields, what Job.compat keeps)."""
    body = given(body)
    for name in UNSUPPORTED_JOB:
        if name in body:
            raise bad(name, "origins and hosted videos are not supported by this server; use input_url")
    if "input_url" not in body:
        raise bad("input_url", "is required")
    if "output_origin_id" not in body and not body.get("managed"):
        raise bad("output_origin_id", "is required")
    outputs = repeated(body.get("outputs"), "outputs")
    if not 1 <= len(outputs) <= 10:
        raise bad("outputs", "1 to 10 outputs")
    thumbnails = repeated(body.get("thumbnails"), "thumbnails")
    if len(thumbnails) > 5:
        raise bad("thumbnails", "at most 5 thumbnail specifications")
    if len(str(body.get("webhook_url", ""))) > 2048:
        raise bad("webhook_url", "at most 2048 characters")
    native: dict[str, Any] = {
        "input_url": body["input_url"],
        "outputs": [o for i, spec in enumerate(outputs) for o in _outputs(spec, i)],
    }
    if thumbnails:
        native["thumbnails"] = [_thumbnail(t, i) for i, t in enumerate(thumbnails)]
    for name in ("priority", "webhook_url", "metadata", "delayed_start", "output_path_template"):
        if name in body:
            native[name] = body[name]
    if "idempotency_key" in body or header_key:
        native["idempotency_key"] = body.get("idempotency_key") or header_key
    clip = given(message(body.get("clip"), "clip"))
    if clip:
        native["clip"] = {
            "start": clip.get("start_seconds", 0),
            **({"end": clip["end_seconds"]} if "end_seconds" in clip else {}),
        }
    compat = {"api": API, OUTPUT_ORIGIN: str(body.get("output_origin_id", ""))}
    if thumbnails:
        compat[THUMBNAILS] = json.dumps(thumbnails, separators=(",", ":"))
    return native, compat


# ---------------------------------------------------------------- the Job object --------------------------


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC to the second, as Transcodely's examples show them."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def origin(job: Job, storage_url: str) -> dict[str, Any]:
    """The output origin: Recast's own storage, under the origin ID the job was created with."""
    scheme, _, rest = storage_url.partition("://")
    provider = {"s3": "s3", "gs": "gcs", "gcs": "gcs"}.get(scheme, "transcodely")
    bucket = rest.split("/", 1)[0] if provider != "transcodely" else ""
    return {
        "id": job.compat.get(OUTPUT_ORIGIN, ""),
        "name": "Recast storage",
        "provider": provider,
        "path": "",
        "bucket": bucket,
    }


def _variant_view(v: Any) -> dict[str, Any]:
    data = {
        "codec": v.codec.value,
        "resolution": v.resolution.value if v.resolution else None,
        "quality": v.quality.value,
    }
    extra = {"width": v.width, "height": v.height, "bitrate": v.bitrate, "framerate": int(v.framerate)}
    return {**data, **{k: x for k, x in extra.items() if x}}


def output_view(out: Output, url: str | None) -> dict[str, Any]:
    variants = [_variant_view(v) for v in out.video]
    video: Any = variants if out.type.is_stream else (variants[0] if variants else None)
    view: dict[str, Any] = {
        "id": out.id,
        "type": out.type.value,
        "status": out.status.value,
        "progress": out.progress,
        "video": video,
        "output_url": url or "",
        "file_size_bytes": out.file_size_bytes or 0,
        # The same facts under the names Transcodely's SDKs read (JobOutput.spec, output_size_bytes).
        "spec": {"type": out.type.value, "video": variants},
        "output_size_bytes": out.file_size_bytes or 0,
        "signed_url": url or "",
    }
    if out.status in (OutputStatus.failed, OutputStatus.canceled):
        view["error_code"] = out.error_code or out.status.value
        view["error_message"] = out.error_message or ""
    return view


def job_view(job: Job, storage_url: str, urls: dict[str, str] | None = None) -> dict[str, Any]:
    """The Job object. Before probing it has the fields of the document's Create answer; from then on
    (and once finished) those of its Get answer: costs, error fields, and every timestamp."""
    urls = urls or {}
    meta = job.input_metadata
    ex = job.execution
    timings = {
        "download_duration_ms": ex.fetch_duration_ms,
        "probe_duration_ms": ex.probe_duration_ms,
        "encode_duration_ms": ex.encode_duration_ms,
        "total_duration_ms": ex.total_duration_ms,
    }
    outputs = [o for o in job.outputs if o.type is not OutputType.thumbnails]
    view: dict[str, Any] = {
        "id": job.id,
        "input_url": job.input.url or "",
        "input_origin": None,
        "output_origin": origin(job, storage_url),
        "status": job.status.value,
        "progress": job.progress,
        "priority": job.priority.value,
        "input_metadata": None
        if meta is None
        else {
            "duration_ms": meta.duration_ms,
            "width": meta.width or 0,
            "height": meta.height or 0,
            "codec": meta.codec or "",
            "bitrate_kbps": meta.bitrate_kbps or 0,
            "framerate": round(meta.framerate or 0),
            "file_size_bytes": meta.file_size_bytes,
            "size_bytes": meta.file_size_bytes,
        },
        "outputs": [output_view(o, urls.get(o.id)) for o in outputs],
        "metadata": job.metadata,
        "delayed_start": job.delayed_start,
        "currency": job.currency,
        "execution": {k: v for k, v in timings.items() if v is not None} or None,
        "created_at": timestamp(job.created_at),
        "updated_at": timestamp(job.updated_at),
    }
    if THUMBNAILS in job.compat:
        view["thumbnails"] = json.loads(job.compat[THUMBNAILS])
        view["thumbnail_results"] = [
            {"index": i, "url": urls.get(o.id, ""), "signed_url": urls.get(o.id, "")}
            for i, o in enumerate(o for o in job.outputs if o.type is OutputType.thumbnails)
        ]
    if job.probed_at is None and not job.status.terminal:
        # As the document's Create answer shows: the outputs are listed once the input is probed.
        view["outputs"] = []
        if job.webhook_url:
            view["webhook_url"] = job.webhook_url
        if job.confirmed_at:
            view["confirmed_at"] = timestamp(job.confirmed_at)
        return view
    view.update(
        {
            "total_estimated_cost": job.total_estimated_cost,
            "total_actual_cost": job.total_actual_cost,
            "error_code": job.error_code or "",
            "error_message": job.error_message or "",
            "webhook_url": job.webhook_url or "",
            "probed_at": timestamp(job.probed_at),
            "started_at": timestamp(job.started_at),
            "completed_at": timestamp(job.completed_at),
            "confirmed_at": timestamp(job.confirmed_at),
        }
    )
    return view


# ---------------------------------------------------------------- errors ----------------------------------

# A native error's HTTP status → the Connect code Transcodely documents for it (and that code's status).
CONNECT: dict[int, tuple[str, int]] = {
    400: ("invalid_argument", 400),
    401: ("unauthenticated", 401),
    403: ("permission_denied", 403),
    404: ("not_found", 404),
    409: ("failed_precondition", 400),  # cancel a finished job, confirm a job not awaiting it
    410: ("failed_precondition", 400),
    413: ("invalid_argument", 400),
    415: ("invalid_argument", 400),
    422: ("invalid_argument", 400),
    429: ("resource_exhausted", 429),
    503: ("unavailable", 503),
}


def violations(message: str) -> list[dict[str, str]]:
    """`field: description; field: description` (the native messages) → field violations."""
    found = []
    for part in message.split("; "):
        field, sep, description = part.partition(": ")
        if sep and field and " " not in field:
            found.append({"field": field, "description": description})
    return found


def connect_error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the Connect error for a native error (`code` is the native code)."""
    connect, http = CONNECT.get(status, ("internal", 500))
    detail: dict[str, Any] = {"code": "validation_error" if connect == "invalid_argument" else code}
    detail["message"] = message
    if connect == "invalid_argument":
        detail["field_violations"] = violations(message)
    # `value` as Transcodely's document shows it; `debug` is where Connect's JSON puts a detail's
    # readable form, which Transcodely's SDKs read.
    body = {
        "code": connect,
        "message": message,
        "details": [{"type": "transcodely.v1.ErrorDetails", "value": detail, "debug": detail}],
    }
    return http, body

"""Parse a multipart form as it streams in, writing the media part straight to storage.

Starlette's form parser spools files to a temporary file first; this writes each chunk to OpenDAL
as it arrives, so an upload never sits whole in memory or on the API's disk, and the size limit
is enforced while streaming.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from api.errors import ApiError
from recast.infra.storage import Storage, clean_filename

MAX_FIELD_BYTES = 1024 * 1024
# JobCreate has fewer than a dozen fields: more parts than this is not a job, only memory spent on it.
MAX_FIELDS = 32
MAX_HEADER_BYTES = 8192
WRITE_BYTES = 1024 * 1024


def _bounded(header: bytes) -> None:
    """Part headers are accumulated in memory: a part's name or filename cannot be made to fill it."""
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(f"a part header is longer than {MAX_HEADER_BYTES} bytes")


@dataclass
class StoredUpload:
    key: str
    filename: str
    size: int


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    upload: StoredUpload | None = None


async def parse_form(
    request: Request,
    storage: Storage,
    file_field: str,
    key_for: Callable[[str], str],
    max_bytes: int,
) -> ParsedForm:
    """Stream the form: text fields are returned, the `file_field` part is written to `key_for(name)`."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "invalid-input", "multipart/form-data needs a boundary")

    events: list[tuple[str, object]] = []
    header: dict[str, bytes] = {"field": b"", "value": b""}
    headers: dict[bytes, bytes] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]
        _bounded(header["field"])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]
        _bounded(header["value"])

    def on_header_end() -> None:
        headers[header["field"].lower()] = header["value"]
        header["field"] = header["value"] = b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(headers.get(b"content-disposition", b""))
        events.append(("part", opts))
        headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        events.append(("data", bytes(data[start:end])))

    def on_part_end() -> None:
        events.append(("end", None))

    parser = MultipartParser(
        boundary,
        {  # type: ignore[arg-type]
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    form = ParsedForm()
    name = ""
    text = bytearray()
    writer = None
    pending = bytearray()  # file bytes not yet written: one storage write per MiB, not per network chunk
    upload: StoredUpload | None = None
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except Exception as exc:
                raise ApiError(400, "invalid-input", f"malformed multipart body: {exc}") from exc
            for kind, value in events:
                if kind == "part":
                    opts = value  # type: ignore[assignment]
                    name = opts.get(b"name", b"").decode(errors="replace")  # type: ignore[attr-defined]
                    filename = opts.get(b"filename")  # type: ignore[attr-defined]
                    text.clear()
                    if name == file_field:
                        if upload is not None:
                            raise ApiError(400, "invalid-input", f"only one {file_field} part is accepted")
                        # No path, no control characters: the name reaches storage keys, the Job and,
                        # through output names, Content-Disposition headers.
                        fname = clean_filename((filename or b"").decode(errors="replace"))
                        upload = StoredUpload(key=key_for(fname), filename=fname, size=0)
                        writer = await storage.op.open(upload.key, "wb")
                elif kind == "data":
                    data: bytes = value  # type: ignore[assignment]
                    if writer is not None and upload is not None:
                        upload.size += len(data)
                        if upload.size > max_bytes:
                            raise ApiError(
                                413, "too-large", f"the upload is larger than the limit of {max_bytes} bytes"
                            )
                        pending.extend(data)
                        if len(pending) >= WRITE_BYTES:
                            await writer.write(bytes(pending))
                            pending.clear()
                    else:
                        text.extend(data)
                        if len(text) > MAX_FIELD_BYTES:
                            raise ApiError(413, "too-large", f"form field {name!r} is larger than 1 MiB")
                elif kind == "end":
                    if writer is not None:
                        if pending:
                            await writer.write(bytes(pending))
                            pending.clear()
                        await writer.close()
                        writer = None
                    elif name:
                        if name not in form.fields and len(form.fields) >= MAX_FIELDS:
                            raise ApiError(413, "too-large", f"a form has at most {MAX_FIELDS} fields")
                        form.fields[name] = text.decode(errors="replace")
            events.clear()
        parser.finalize()
    except BaseException:
        if writer is not None:
            await writer.close()
        if upload is not None:
            await storage.delete(upload.key)  # a refused upload leaves nothing behind
        raise
    form.upload = upload
    return form

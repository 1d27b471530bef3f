"""HTTP range requests and conditional GETs for `/v1/files/…` (RFC 9110 §13–14), so browsers can
seek in a video and revalidate what they keep instead of fetching it again.

Pure decisions on request headers and an object's size and validators; api/services/files.py reads
the bytes. One range is served as `206` with `Content-Range`; a request for several ranges gets the
whole file as `200` (allowed by the RFC, and what players never ask for: they ask one range at a
time); a range that cannot be served (malformed, or starting at or past the end) is `416` with
`Content-Range: bytes */size`; another unit than `bytes` is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class Span:
    """Bytes `first`..`last` (inclusive) of an object of `size` bytes."""

    first: int
    last: int
    size: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.size}"


class Unsatisfiable(Exception):
    """The request's range cannot be served: answer 416 with `Content-Range: bytes */size`."""


def parse_range(header: str | None, size: int) -> Span | None:
    """The one byte range `header` asks of an object of `size` bytes; None to send it whole (no header,
    another unit, several ranges); Unsatisfiable when it is malformed or starts past the end."""
    if header is None:
        return None
    unit, _, ranges = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in ranges:
        return None  # several ranges: the whole file (see the module's doc)
    match = _SPEC.match(ranges)
    if match is None or match.groups() == ("", ""):
        raise Unsatisfiable(header)
    first_s, last_s = match.groups()
    if first_s == "":  # `-n`: the last n bytes
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return Span(max(size - suffix, 0), size - 1, size)
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if first >= size or last < first:
        raise Unsatisfiable(header)
    return Span(first, min(last, size - 1), size)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def not_modified(headers: Headers, etag: str | None, last_modified: datetime | None) -> bool:
    """Whether a GET/HEAD is answered 304: `If-None-Match` names the current tag (weak comparison, `*`
    matches), or, without `If-None-Match`, nothing changed since `If-Modified-Since`."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if etag is None:
            return False
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or _opaque(etag) in {_opaque(t) for t in tags}
    since = headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    moment = _date(since)
    return moment is not None and last_modified.replace(microsecond=0) <= moment


def range_applies(headers: Headers, etag: str | None, last_modified: datetime | None) -> bool:
    """`If-Range`: serve the range only if the object is still the one the client has part of (strong
    comparison of tags, or exactly its Last-Modified date); otherwise the whole new object."""
    if_range = headers.get("if-range")
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return (
            etag is not None
            and not etag.startswith("W/")
            and not if_range.startswith("W/")
            and etag == if_range
        )
    moment = _date(if_range)
    return moment is not None and last_modified is not None and last_modified.replace(microsecond=0) == moment

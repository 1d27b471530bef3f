"""Range requests and conditional GETs (api/services/ranges.py): which bytes a `Range` header asks for,
and when a GET is answered 304 or gets the whole file; the tus metadata header's parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import Headers

from api.errors import ApiError
from api.services.ranges import Span, Unsatisfiable, http_date, not_modified, parse_range, range_applies
from api.services.tus import parse_metadata

SIZE = 1000
MODIFIED = datetime(2026, 12, 6, 10, 30, 15, 123456, tzinfo=UTC)
ETAG = '"3e8-5f1"'


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=0-499", (0, 499)),
        ("bytes=500-", (500, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("BYTES = 10 - 19", (10, 19)),
    ],
)
def test_one_range(header: str, span: tuple[int, int]) -> None:
    assert parse_range(header, SIZE) == Span(*span, SIZE)


@pytest.mark.parametrize("header", [None, "bytes=0-1,5-9", "items=0-9"])
def test_whole_file(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=2000-3000", "bytes=9-3", "bytes=-0", "bytes=-", "bytes=a-b", "bytes="]
)
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, SIZE)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)  # nothing to serve of an empty file


def test_content_range() -> None:
    span = parse_range("bytes=10-19", SIZE)
    assert span is not None and span.content_range == "bytes 10-19/1000" and span.length == 10


def test_conditional_get() -> None:
    date = http_date(MODIFIED)
    assert date == "Sun, 06 Dec 2026 10:30:15 GMT"
    assert not_modified(Headers({"if-none-match": ETAG}), ETAG, MODIFIED)
    assert not_modified(Headers({"if-none-match": f"W/{ETAG}"}), ETAG, MODIFIED)  # weak comparison
    assert not_modified(Headers({"if-none-match": "*"}), ETAG, MODIFIED)
    assert not not_modified(Headers({"if-none-match": '"x"', "if-modified-since": date}), ETAG, MODIFIED)
    assert not_modified(Headers({"if-modified-since": date}), ETAG, MODIFIED)
    assert not_modified(Headers({"if-modified-since": "Mon, 07 Dec 2026 00:00:00 GMT"}), ETAG, MODIFIED)
    assert not not_modified(Headers({"if-modified-since": "Sat, 05 Dec 2026 00:00:00 GMT"}), ETAG, MODIFIED)
    assert not not_modified(Headers({"if-modified-since": "yesterday"}), ETAG, MODIFIED)
    assert not not_modified(Headers({}), ETAG, MODIFIED)


def test_if_range() -> None:
    assert range_applies(Headers({}), ETAG, MODIFIED)
    assert range_applies(Headers({"if-range": ETAG}), ETAG, MODIFIED)
    assert not range_applies(Headers({"if-range": f"W/{ETAG}"}), ETAG, MODIFIED)  # strong comparison only
    assert not range_applies(Headers({"if-range": '"other"'}), ETAG, MODIFIED)
    assert range_applies(Headers({"if-range": http_date(MODIFIED)}), ETAG, MODIFIED)
    assert not range_applies(Headers({"if-range": "Sat, 05 Dec 2026 00:00:00 GMT"}), ETAG, MODIFIED)


def test_tus_metadata() -> None:
    assert parse_metadata("filename dmlkw6lvLm1wNA==,filetype dmlkZW8vbXA0, is_confidential") == {
        "filename": "vidéo.mp4",
        "filetype": "video/mp4",
        "is_confidential": "",
    }
    assert parse_metadata(None) == {}
    with pytest.raises(ApiError) as err:
        parse_metadata("filename %%%")
    assert err.value.status == 400

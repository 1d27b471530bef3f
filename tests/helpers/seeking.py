"""What a browser or player checks of a seekable download (`/v1/files/…`): ranges, 416, validators
and conditional GETs, asked of one URL as a client would; shared by the local-storage and S3 tests."""

from __future__ import annotations

import httpx


def check_seekable(url: str) -> bytes:
    """Check every range and conditional answer of `url`; returns the whole file."""
    with httpx.Client(timeout=30) as http:
        whole = http.get(url)
        assert whole.status_code == 200, whole.text[:300]
        body, size = whole.content, len(whole.content)
        assert size > 400 and int(whole.headers["content-length"]) == size
        assert whole.headers["accept-ranges"] == "bytes"
        etag, modified = whole.headers["etag"], whole.headers["last-modified"]
        assert etag.startswith('"') and modified.endswith(" GMT")
        assert whole.headers["cache-control"] == "private, no-cache"  # kept by the browser, revalidated

        def ranged(spec: str, **headers: str) -> httpx.Response:
            return http.get(url, headers={"Range": spec, **headers})

        for spec, first, last in (
            ("bytes=0-99", 0, 99),
            ("bytes=100-", 100, size - 1),
            ("bytes=-50", size - 50, size - 1),
            (f"bytes={size // 2}-{size // 2}", size // 2, size // 2),
            (f"bytes=10-{size + 1000}", 10, size - 1),  # past the end: up to the end
            (f"bytes=-{size * 2}", 0, size - 1),
        ):
            part = ranged(spec)
            assert part.status_code == 206, (spec, part.status_code)
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}", spec
            assert int(part.headers["content-length"]) == last - first + 1
            assert part.content == body[first : last + 1], spec
            assert part.headers["etag"] == etag
        # Parts put together are the file.
        halves = ranged(f"bytes=0-{size // 2 - 1}").content + ranged(f"bytes={size // 2}-").content
        assert halves == body

        for bad in (
            f"bytes={size}-",
            f"bytes={size + 5}-{size + 9}",
            "bytes=9-3",
            "bytes=abc",
            "bytes=-0",
            "bytes=-",
        ):
            refused = ranged(bad)
            assert refused.status_code == 416, (bad, refused.status_code)
            assert refused.headers["content-range"] == f"bytes */{size}"
            assert refused.json()["error"]["code"] == "range-not-satisfiable"
        # Several ranges, or another unit: the whole file (documented).
        for whole_spec in ("bytes=0-1,5-6", "items=0-1"):
            full = ranged(whole_spec)
            assert full.status_code == 200 and full.content == body, whole_spec

        # Conditional GETs: the client's copy is current → 304 without a body.
        for headers in (
            {"If-None-Match": etag},
            {"If-None-Match": f'"nope", {etag}'},
            {"If-None-Match": "*"},
        ):
            same = http.get(url, headers=headers)
            assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag, headers
        assert http.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert http.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        older = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert http.get(url, headers={"If-Modified-Since": older}).status_code == 200
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        assert (
            http.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": modified}).status_code
            == 200
        )

        # If-Range: the range only if the file is still the one the client has part of.
        assert ranged("bytes=0-9", **{"If-Range": etag}).status_code == 206
        assert ranged("bytes=0-9", **{"If-Range": modified}).status_code == 206
        changed = ranged("bytes=0-9", **{"If-Range": '"changed"'})
        assert changed.status_code == 200 and changed.content == body
        assert ranged("bytes=0-9", **{"If-Range": older}).status_code == 200

        # HEAD says what GET would send, without the body.
        head = http.head(url)
        assert head.status_code == 200 and head.content == b""
        assert (head.headers["content-length"], head.headers["etag"]) == (str(size), etag)
        head_part = http.head(url, headers={"Range": "bytes=5-14"})
        assert head_part.status_code == 206 and head_part.headers["content-range"] == f"bytes 5-14/{size}"
        return body

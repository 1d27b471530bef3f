"""Cross-origin access for web apps (CORS): which origins may call the API from a browser, and which
request and response headers their pages may send and read.

Starlette's CORSMiddleware over the whole app — the job routes, the upload routes (`/v1/uploads`,
`/v1/tus/`) and `/v1/files/…` alike — from the allowlist `RECAST_CORS_ORIGINS` (none by default: no
CORS headers at all, so browsers keep other origins' pages out). It answers preflights itself, before
authentication: a preflight carries no credentials. Credentials are an `Authorization` header the page
sets (not cookies), so `allow_credentials` stays off and `*` can be used as an origin.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

ALLOW_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# What a page may send: the API key, JSON bodies, tus' own headers (tus-js-client may also send
# X-HTTP-Method-Override and X-Requested-With), idempotency and organization headers, and a player's
# range and revalidation headers.
ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Organization-ID",
    "X-Requested-With",
    "X-HTTP-Method-Override",
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Concat",
    "Upload-Checksum",
    "Range",
    "If-Range",
    "If-None-Match",
    "If-Modified-Since",
    "Content-Range",
]
# What a page's script may read besides the CORS-safelisted ones: players read the range headers,
# tus clients the upload's offset, length and Location, and the tus discovery headers.
EXPOSE_HEADERS = [
    "Content-Range",
    "Accept-Ranges",
    "Content-Length",
    "Content-Disposition",
    "ETag",
    "Last-Modified",
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Retry-After",
]
PREFLIGHT_MAX_AGE_S = 600


def install(app: FastAPI, origins: tuple[str, ...]) -> None:
    """Answer browsers from `origins` (none: add nothing, every cross-origin read stays blocked)."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=ALLOW_METHODS,
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_S,
    )

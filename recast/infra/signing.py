"""HMAC-signed, expiring download tokens for outputs kept on local storage (`GET /v1/files/{token}`).

The MAC covers the whole payload: organization, job, output, storage key, download name, content type
and expiry, so changing any of them breaks the token. Rotation: tokens are always signed with the
current secret, and verified against it and then any previous secrets (`RECAST_SIGNING_SECRET_PREVIOUS`),
so URLs handed out before a rotation keep working until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


class TokenError(Exception):
    """The token is malformed, tampered with, or expired. `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class FileGrant:
    organization: str
    job_id: str
    output_id: str
    key: str
    filename: str
    content_type: str
    expires: int  # unix seconds

    @property
    def folder(self) -> bool:
        """A folder grant (key ends with `/`) covers every file below it: `/v1/files/{token}/{name}`,
        so the relative URIs inside a playlist, an MPD or a WebVTT index resolve under one token."""
        return self.key.endswith("/")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, payload: str) -> str:
    # `purpose` separates kinds of token signed with one secret: an upload token is never a download token.
    return _b64(hmac.new(secret.encode(), purpose.encode() + payload.encode(), hashlib.sha256).digest())


def seal(fields: dict[str, object], secret: str, purpose: str = "") -> str:
    """`fields` as a URL-safe token: base64 JSON, a dot, its HMAC-SHA256."""
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, purpose, payload)}"


def unseal(token: str, secrets: Iterable[str], purpose: str = "") -> dict[str, Any] | None:
    """The fields of a token one of `secrets` signed for `purpose`, or None (forged, altered, garbled)."""
    payload, _, mac = token.partition(".")
    # Compared as bytes: compare_digest refuses non-ASCII str, and a token comes from the URL as typed.
    if not payload or not mac:
        return None
    if not any(hmac.compare_digest(mac.encode(), _mac(s, purpose, payload).encode()) for s in secrets if s):
        return None
    try:
        data = json.loads(_unb64(payload))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def sign(grant: FileGrant, secret: str) -> str:
    fields = {
        "o": grant.organization,
        "j": grant.job_id,
        "out": grant.output_id,
        "k": grant.key,
        "f": grant.filename,
        "t": grant.content_type,
        "e": grant.expires,
    }
    return seal(fields, secret)


def verify(token: str, secret: str, now: float | None = None, previous: Iterable[str] = ()) -> FileGrant:
    """The grant a token carries, if one of the secrets signed it and it has not expired."""
    data = unseal(token, (secret, *previous))
    if data is None:
        raise TokenError("invalid-token", "the download token is not valid")
    try:
        grant = FileGrant(data["o"], data["j"], data["out"], data["k"], data["f"], data["t"], int(data["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("invalid-token", "the download token is not valid") from exc
    if grant.expires < (time.time() if now is None else now):
        raise TokenError("token-expired", "the download token has expired; request a new download URL")
    return grant


def token_url(base_url: str, grant: FileGrant, secret: str) -> str:
    """`{base}/v1/files/{token}`: the file of a grant, or the folder a folder grant's files are under."""
    return f"{base_url.rstrip('/')}/v1/files/{sign(grant, secret)}"


def file_url(base_url: str, grant: FileGrant, secret: str) -> str:
    """The gateway URL of a grant; for a folder grant, of its entry file (`grant.filename`)."""
    url = token_url(base_url, grant, secret)
    return f"{url}/{quote(grant.filename)}" if grant.folder else url


def folder_member(grant: FileGrant, name: str) -> str:
    """The storage key of `name` inside a folder grant; refuses anything that could leave the folder."""
    parts = name.split("/")
    if not grant.folder or not name or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise TokenError("invalid-token", "the download token does not cover this path")
    return grant.key + name

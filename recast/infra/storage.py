"""Object storage through OpenDAL, and the layout of every object Recast writes.

Backends (`RECAST_STORAGE_URL`): `fs://path` (default), `memory://` (tests), `s3://bucket/prefix`,
`gs://bucket/prefix`; credentials and endpoints come from Settings (docs/configuration.md).

Layout: `{organization}/jobs/{job_id}/input/{filename}`, `{organization}/jobs/{job_id}/outputs/{output_id}.{ext}`,
`{organization}/jobs/{job_id}/webhooks/…` (recast/infra/webhook_log.py), `{organization}/uploads/{upload_id}/…`,
`{organization}/templates/{name}/v{version}.json` (saved job templates) and
`{organization}/batches/{batch_id}/page-{n}.json` (a batch's job requests), so each organization's files
live under its own prefix.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import opendal

from recast.core.job import OutputFile
from recast.infra.config import Settings

CHUNK = 1024 * 1024
# Content types of the files folder outputs hold; Python's mimetypes knows few of them.
FOLDER_CONTENT_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "mpd": "application/dash+xml",
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "webm": "video/webm",
    "vtt": "text/vtt",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}


def content_type_for(name: str) -> str:
    return FOLDER_CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


OBJECT_SCHEMES = ("s3", "gs")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


def safe_filename(name: str | None, default: str = "input") -> str:
    """A filename reduced to a harmless basename: no directories, no control or shell characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip("._")[:120]
    return base or default


def clean_filename(name: str | None, default: str = "upload") -> str:
    """A client's filename made harmless to keep, show and put in a header: its last path component,
    without control or format characters (CR/LF, NUL, bidi overrides), trimmed, at most 255 characters.
    Unlike safe_filename it keeps non-ASCII letters, so "vidéo.mp4" stays readable."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    base = base.strip().lstrip(".")[:255].strip()
    return base or default


def input_key(organization: str, job_id: str, filename: str, folder: str | None = None) -> str:
    inner = f"{folder}/" if folder else ""
    return f"{organization}/jobs/{job_id}/input/{inner}{safe_filename(filename)}"


def output_key(organization: str, job_id: str, output_id: str, ext: str, path: str | None = None) -> str:
    """Where an output is stored: its templated `path` (checked safe at submit) under the organization's
    `outputs/` prefix, or the job's own folder by default."""
    if path:
        return f"{organization}/outputs/{path}"
    return f"{organization}/jobs/{job_id}/outputs/{output_id}.{ext}"


def output_prefix(organization: str, job_id: str, output_id: str, path: str | None = None) -> str:
    """The folder of a folder output (FOLDER_TYPES), like output_key; ends with `/`."""
    if path:
        return f"{organization}/outputs/{path.rstrip('/')}/"
    return f"{organization}/jobs/{job_id}/outputs/{output_id}/"


def chunk_prefix(organization: str, job_id: str, output_id: str) -> str:
    """Where a chunked output's encoded chunks wait for the stitch (removed once it is stored, or when
    the job ends otherwise); ends with `/`."""
    return f"{organization}/jobs/{job_id}/chunks/{output_id}/"


def template_prefix(organization: str, name: str | None = None) -> str:
    """Where an organization's templates (or one template's versions) are kept."""
    return f"{organization}/templates/" + (f"{name}/" if name is not None else "")


def template_key(organization: str, name: str, version: int) -> str:
    # Zero-padded: a listing sorted by name is sorted by version.
    return f"{template_prefix(organization, name)}v{version:06d}.json"


def batch_page_key(organization: str, batch_id: str, page: int) -> str:
    return f"{organization}/batches/{batch_id}/page-{page:04d}.json"


def upload_prefix(organization: str, upload_id: str) -> str:
    return f"{organization}/uploads/{upload_id}/"


@dataclass(frozen=True)
class ObjectUrl:
    """`s3://bucket/key` or `gs://bucket/key`, as given in an input URL."""

    scheme: str
    bucket: str
    key: str


def parse_object_url(url: str) -> ObjectUrl:
    """Split an `s3://` / `gs://` URL; ValueError naming what is wrong."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in OBJECT_SCHEMES:
        raise ValueError(f"not an object URL: {url[:80]!r}")
    key = parts.path.lstrip("/")
    if not _BUCKET.match(parts.netloc) or not key or key.endswith("/"):
        raise ValueError(f"{scheme}:// URLs are {scheme}://bucket/key, with a bucket name and an object key")
    if parts.query or parts.fragment or any(seg in ("", ".", "..") for seg in key.split("/")):
        raise ValueError(
            f"{scheme}:// object keys may not have empty, '.' or '..' segments, a query or a fragment"
        )
    return ObjectUrl(scheme=scheme, bucket=parts.netloc, key=key)


def operator_options(scheme: str, bucket: str, root: str, settings: Settings | None) -> dict[str, str]:
    """OpenDAL options of an `s3` or `gcs` operator for one bucket, from the configured endpoint and
    credentials. Explicit credentials switch off OpenDAL's own discovery (environment, ~/.aws, instance
    metadata), so what Recast uses is exactly what it was told; without them the provider's usual
    discovery (an IAM role, a workload identity) applies."""
    s = settings or Settings()
    opts = {"bucket": bucket, "root": "/" + root.strip("/")}
    if scheme == "s3":
        # Path-style addressing (OpenDAL's default: `enable_virtual_host_style` off) is what MinIO
        # and other S3-compatible servers on a plain host:port need.
        opts["region"] = s.s3_region
        if s.s3_endpoint:
            opts["endpoint"] = s.s3_endpoint
        if s.s3_access_key_id or s.s3_secret_access_key:
            opts["access_key_id"] = s.s3_access_key_id
            opts["secret_access_key"] = s.s3_secret_access_key
            opts["disable_config_load"] = "true"
            opts["disable_ec2_metadata"] = "true"
    elif scheme in ("gs", "gcs"):
        if s.gcs_endpoint:
            opts["endpoint"] = s.gcs_endpoint
        if s.gcs_credential:
            name, value = _gcs_credential(s.gcs_credential)
            opts[name] = value
            opts["disable_config_load"] = "true"
            opts["disable_vm_metadata"] = "true"
        if s.gcs_token:
            opts["token"] = s.gcs_token
    else:
        raise ValueError(f"no object-storage service for scheme {scheme!r}")
    return opts


def _gcs_credential(value: str) -> tuple[str, str]:
    """RECAST_GCS_CREDENTIAL as an OpenDAL option: base64 of the service-account JSON, or its path."""
    try:
        json.loads(base64.b64decode(value, validate=True))
        return "credential", value
    except (binascii.Error, ValueError):
        pass
    try:
        if Path(value).is_file():
            return "credential_path", value
    except OSError:
        pass
    raise ValueError("RECAST_GCS_CREDENTIAL is neither base64 of a service-account JSON nor a path to one")


@dataclass(frozen=True)
class ObjectInfo:
    """What a stored object's stat says: its size, an entity tag and when it was last modified."""

    size: int
    etag: str | None
    last_modified: datetime | None
    store_etag: bool  # the ETag is the store's own (it can check it on a read)


class Storage:
    """One configured backend. `local_root` is set for `fs://`, letting workers read objects in place;
    `scheme` is `fs`, `memory`, `s3` or `gs`; object stores also have `bucket` and `prefix`."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme or "fs"
        self.url = url
        self.scheme = scheme
        self.settings = settings
        self.local_root: Path | None = None
        self.bucket = ""
        self.prefix = ""
        self._sources: dict[tuple[str, str], opendal.AsyncOperator] = {}
        self.presign_op: opendal.AsyncOperator | None = None  # set when presigning uses another endpoint
        if scheme == "fs":
            root = Path(parts.netloc + parts.path).resolve()
            root.mkdir(parents=True, exist_ok=True)
            self.local_root = root
            self.op = opendal.AsyncOperator("fs", root=str(root))
        elif scheme == "memory":
            self.op = opendal.AsyncOperator("memory")
        elif scheme in OBJECT_SCHEMES:
            if not parts.netloc:
                raise ValueError(f"RECAST_STORAGE_URL {url!r} names no bucket: use {scheme}://bucket/prefix")
            self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
            service = "s3" if scheme == "s3" else "gcs"
            options = operator_options(scheme, self.bucket, self.prefix, settings)
            self.op = opendal.AsyncOperator(service, **options)
            public = settings.s3_public_endpoint if settings and scheme == "s3" else ""
            # A signature covers the host: URLs for clients are signed for the endpoint they reach
            # (localhost:9000, say), which may not be the one Recast uses (minio:9000 inside compose).
            if public:
                self.presign_op = opendal.AsyncOperator(service, **{**options, "endpoint": public})
        else:
            raise ValueError(
                f"unsupported RECAST_STORAGE_URL scheme {scheme!r} (supported: fs, memory, s3, gs)"
            )

    @property
    def presigns(self) -> bool:
        """Whether clients talk to the store directly through pre-signed URLs (S3, GCS), rather than
        through the gateway's signed routes (local storage)."""
        return self.scheme in OBJECT_SCHEMES

    async def download_url(self, key: str, filename: str, content_type: str, ttl_s: int) -> str | None:
        """A pre-signed GET valid for `ttl_s`, served as an attachment named `filename`; None on local
        storage, where the caller hands out a gateway token (`/v1/files/{token}`) instead."""
        if not self.presigns:
            return None
        quoted = filename.replace('"', "").replace("\\", "")
        req = await (self.presign_op or self.op).presign_read(
            key,
            ttl_s,
            content_type=content_type,
            content_disposition=f'attachment; filename="{quoted}"',
        )
        return req.url

    async def upload_request(
        self, key: str, ttl_s: int, content_type: str
    ) -> tuple[str, str, dict[str, str]]:
        """A pre-signed PUT (url, method, headers) the client sends the object's bytes to directly."""
        req = await (self.presign_op or self.op).presign_write(key, ttl_s, content_type=content_type)
        return req.url, req.method, {**dict(req.headers), "Content-Type": content_type}

    def source(self, obj: ObjectUrl) -> opendal.AsyncOperator:
        """An operator reading the bucket of an `s3://` / `gs://` input URL, with the configured
        endpoint and credentials (one per bucket, reused)."""
        cached = self._sources.get((obj.scheme, obj.bucket))
        if cached is None:
            service = "s3" if obj.scheme == "s3" else "gcs"
            cached = opendal.AsyncOperator(
                service, **operator_options(obj.scheme, obj.bucket, "", self.settings)
            )
            self._sources[(obj.scheme, obj.bucket)] = cached
        return cached

    def foreign_object(self, obj: ObjectUrl, organization: str) -> bool:
        """True when an input URL points into Recast's own storage outside the organization's prefix:
        the configured credentials can read every organization's files there, a client may not."""
        if obj.scheme != self.scheme or obj.bucket != self.bucket:
            return False
        own = "/".join(p for p in (self.prefix, organization) if p) + "/"
        return not obj.key.startswith(own)

    def local_path(self, key: str) -> Path | None:
        """The object's path on this machine's disk, when the backend is the local filesystem."""
        return self.local_root / key if self.local_root else None

    async def size(self, key: str) -> int | None:
        try:
            meta = await self.op.stat(key)
        except opendal.exceptions.NotFound:
            return None
        return int(meta.content_length)

    async def put_file(self, key: str, path: Path) -> int:
        """Stream a local file into storage chunk by chunk; returns the bytes written."""
        written = 0
        writer = await self.op.open(key, "wb")
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    await writer.write(chunk)
                    written += len(chunk)
        finally:
            await writer.close()
        return written

    async def adopt_file(self, key: str, path: Path) -> int:
        """Store a local file that is no longer needed where it is: moved in place on `fs://` when it is on
        the same filesystem (no copy of a large rendition), streamed otherwise. Returns its size."""
        target = self.local_path(key)
        if target is not None:
            try:
                return _move(path, target)
            except OSError:
                pass  # another filesystem: fall back to streaming
        return await self.put_file(key, path)

    async def adopt_dir(self, prefix: str, directory: Path) -> list[OutputFile]:
        """Store every file under `directory` below `prefix` (see adopt_file), sorted by name; returns
        them with their sizes and content types."""
        files = []
        for path in await asyncio.to_thread(_files_under, directory):
            name = path.relative_to(directory).as_posix()
            size = await self.adopt_file(prefix + name, path)
            files.append(OutputFile(name=name, size=size, content_type=content_type_for(name)))
        return files

    async def get_file(self, key: str, path: Path) -> int:
        """Stream an object to a local file; returns the bytes read."""
        read = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            async for chunk in self.iter_bytes(key):
                fh.write(chunk)
                read += len(chunk)
        return read

    async def stat(self, key: str) -> ObjectInfo | None:
        """Size and validators of an object (None when there is none): the store's ETag where it keeps
        one (S3, GCS), else one made of size and modification time, as web servers make them (fs)."""
        try:
            meta = await self.op.stat(key)
        except opendal.exceptions.NotFound:
            return None
        size, modified = int(meta.content_length), meta.last_modified
        etag = meta.etag
        if etag:
            etag = etag if etag.startswith(('"', "W/")) else f'"{etag}"'
        elif modified is not None:
            etag = f'"{size:x}-{int(modified.timestamp() * 1_000_000):x}"'
        return ObjectInfo(size=size, etag=etag, last_modified=modified, store_etag=bool(meta.etag))

    async def iter_bytes(
        self, key: str, offset: int = 0, size: int | None = None, if_match: str | None = None
    ) -> AsyncIterator[bytes]:
        """The object's bytes in chunks, or `size` bytes from `offset` (a ranged read on the store: on S3
        and GCS one ranged GET, not the whole object). `if_match`: the store's ETag the object must
        still have, so a range is never cut from a newer object than the one its headers described."""
        options: dict[str, Any] = {}
        if offset or size is not None:
            options = {"offset": offset, "size": size} if size is not None else {"offset": offset}
        if if_match and self.op.capability().read_with_if_match:
            options["if_match"] = if_match
        reader = await self.op.open(key, "rb", **options)
        try:
            while chunk := await reader.read(CHUNK):
                yield bytes(chunk)
        finally:
            await reader.close()

    async def delete(self, key: str) -> None:
        await self.op.delete(key)

    async def write_bytes(self, key: str, data: bytes) -> None:
        """Write a small object (a JSON record) whole."""
        await self.op.write(key, data)

    async def create_bytes(self, key: str, data: bytes) -> bool:
        """Write a small object only if there is none at `key` yet: False when there is. On a backend
        without conditional writes, a plain write (the last of two racing writers wins)."""
        try:
            await self.op.write(key, data, if_not_exists=True)
        except opendal.exceptions.ConditionNotMatch:
            return False
        except opendal.exceptions.Unsupported:
            if await self.size(key) is not None:
                return False
            await self.op.write(key, data)
        return True

    async def read_bytes(self, key: str) -> bytes | None:
        """A small object whole, or None when there is none."""
        try:
            return bytes(await self.op.read(key))
        except opendal.exceptions.NotFound:
            return None

    async def list_keys(self, prefix: str) -> list[str]:
        """Every object key under `prefix` (a folder, ending in `/`), at any depth, sorted."""
        keys = []
        try:
            async for entry in await self.op.scan(prefix):
                if not entry.path.endswith("/"):
                    keys.append(entry.path)
        except opendal.exceptions.NotFound:
            return []
        return sorted(keys)


def describe_dir(directory: Path) -> list[OutputFile]:
    """Every file under `directory` as adopt_dir would store it (name, size, content type), sorted by name."""
    files = []
    for path in _files_under(directory):
        name = path.relative_to(directory).as_posix()
        files.append(OutputFile(name=name, size=path.stat().st_size, content_type=content_type_for(name)))
    return files


def _files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _move(path: Path, target: Path) -> int:
    """Rename a file into place (a metadata operation, no data copied); returns its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size = os.path.getsize(path)
    os.replace(path, target)
    return size

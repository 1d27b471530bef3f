"""Object storage through OpenDAL, and the layout of every object Recast writes.

Layout: `{organization}/jobs/{job_id}/input/{filename}` and `{organization}/jobs/{job_id}/outputs/{output_id}.{ext}`,
so each organization's files live under its own prefix.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import opendal

CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None, default: str = "input") -> str:
    """A filename reduced to a harmless basename: no directories, no control or shell characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip("._")[:120]
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


class Storage:
    """One configured backend. `local_root` is set for `fs://`, letting workers read objects in place."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme or "fs"
        self.url = url
        self.local_root: Path | None = None
        if scheme == "fs":
            root = Path(parts.netloc + parts.path).resolve()
            root.mkdir(parents=True, exist_ok=True)
            self.local_root = root
            self.op = opendal.AsyncOperator("fs", root=str(root))
        elif scheme == "memory":
            self.op = opendal.AsyncOperator("memory")
        else:
            raise ValueError(f"unsupported RECAST_STORAGE_URL scheme {scheme!r} (supported: fs, memory)")

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

    async def get_file(self, key: str, path: Path) -> int:
        """Stream an object to a local file; returns the bytes read."""
        read = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            async for chunk in self.iter_bytes(key):
                fh.write(chunk)
                read += len(chunk)
        return read

    async def iter_bytes(self, key: str) -> AsyncIterator[bytes]:
        reader = await self.op.open(key, "rb")
        try:
            while chunk := await reader.read(CHUNK):
                yield bytes(chunk)
        finally:
            await reader.close()

    async def delete(self, key: str) -> None:
        await self.op.delete(key)


def _move(path: Path, target: Path) -> int:
    """Rename a file into place (a metadata operation, no data copied); returns its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size = os.path.getsize(path)
    os.replace(path, target)
    return size

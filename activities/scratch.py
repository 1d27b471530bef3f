"""The worker's scratch space: local copies of inputs and per-attempt working folders."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from recast.infra.storage import Storage

_locks: dict[str, asyncio.Lock] = {}


async def local_input(storage: Storage, scratch: Path, key: str) -> Path:
    """A local path holding the object `key`, for ffmpeg to read.

    On `fs://` storage the object is read in place. Otherwise it is downloaded once per worker and
    shared by the renditions of the job; a retry on another worker downloads it there, so no
    activity depends on a file that only a dead worker had.
    """
    in_place = storage.local_path(key)
    if in_place is not None:
        return in_place
    path = scratch / "inputs" / hashlib.sha256(key.encode()).hexdigest()[:32]
    async with _locks.setdefault(key, asyncio.Lock()):
        if not path.exists():
            tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
            try:
                await storage.get_file(key, tmp)
                os.replace(tmp, path)  # atomic: a half-written copy is never seen as complete
            finally:
                tmp.unlink(missing_ok=True)
    return path


def work_dir(scratch: Path, job_id: str, name: str) -> Path:
    path = scratch / "work" / job_id / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

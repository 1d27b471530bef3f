"""The worker's scratch space: local copies of inputs, per-attempt working folders, and finished outputs
staged for the upload step."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path

from recast.infra.storage import Storage

_locks: dict[str, asyncio.Lock] = {}
# A staged output is stored within minutes (RECAST_UPLOAD_ATTEMPTS with backoff), or its job moved on
# (canceled, the upload given up, encoded again elsewhere): older ones are orphans.
STAGED_MAX_AGE_S = 24 * 3600


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


class StagingArea:
    """This worker process's folder of finished outputs waiting for `store_output`:
    `scratch/staged/{name}/`, where `name` is the worker's own task queue for that activity.

    The process holds an exclusive lock on `.owner` inside it for as long as it runs; the kernel drops
    the lock when the process ends, however it ends. So a worker starting on the same scratch space
    removes the folders of workers that are gone (SIGKILLed, crashed) and leaves those of workers still
    running beside it alone; a worker that stops cleanly removes its own (`close`)."""

    def __init__(self, scratch: Path, name: str) -> None:
        base = scratch / "staged"
        base.mkdir(parents=True, exist_ok=True)
        for other in base.iterdir():
            if other.is_dir() and not _locked(other / ".owner"):
                remove(other)
        self.task_queue = name
        self.root = base / name
        self.root.mkdir()
        # Locked before it is put in place: a worker starting at the same moment never sees it unlocked.
        lock = base / f".{name}.owner"
        self._owner = lock.open("w")
        fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(lock, self.root / ".owner")

    def keep(self, path: Path, job_id: str, output_id: str) -> Path:
        """Move a finished file or folder here (a rename: same scratch filesystem); returns its new path.
        Outputs staged more than STAGED_MAX_AGE_S ago go on the way."""
        self.prune(time.time() - STAGED_MAX_AGE_S)
        folder = self.root / job_id / f"{output_id}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return Path(shutil.move(path, folder / path.name))

    def prune(self, before: float) -> None:
        """Remove the staged outputs (and job folders) last changed before `before` (a Unix time)."""
        for job in self.root.iterdir():
            if not job.is_dir():
                continue
            for staged in job.iterdir():
                if staged.stat().st_mtime < before:
                    remove(staged)
            if not any(job.iterdir()):
                job.rmdir()

    def holds(self, path: Path) -> bool:
        """Whether `path` is in this area and still there (a path from elsewhere never is)."""
        return path.resolve().is_relative_to(self.root.resolve()) and path.exists()

    def close(self) -> None:
        remove(self.root)
        self._owner.close()


def _locked(owner: Path) -> bool:
    """Whether a live process holds the lock on `owner` (a staging folder's `.owner`)."""
    try:
        with owner.open("r") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return True  # a folder still being made (its lock comes in place already held)
    return False

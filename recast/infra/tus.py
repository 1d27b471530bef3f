"""Where the bytes of a tus upload (`/v1/tus/`, api/services/tus.py) go while they arrive, through
OpenDAL like every other upload, and how far an upload has got.

A tus upload arrives as a series of PATCH requests, each continuing at the offset the previous one
reached, possibly hours apart and through another API process. How the pieces become one object
depends on what the store can do:

- **Local storage (fs)**: each PATCH appends to the upload's data object (`{org}/uploads/{id}/data/…`,
  the same key `POST /v1/uploads` uses) through OpenDAL's append writer; the upload's offset is that
  object's size, so what a cut connection delivered is kept and the client resumes right after it.
- **Object stores (S3, GCS) and memory**: objects cannot be appended to (OpenDAL's S3 append is only
  for S3 Express One Zone buckets, and GCS has none), and an OpenDAL writer — an S3 multipart upload
  underneath — cannot outlive the request that opened it. So each PATCH is stored as an object of its
  own, `{org}/uploads/{id}/parts/{offset:020d}`, named by the offset it starts at; the upload's offset
  is the end of the chain of parts starting at 0 (a part a cut PATCH left short still counts, as far as
  it got). When the last byte has arrived the parts are read back in order and streamed into the data
  object with one OpenDAL writer (a multipart upload on S3), then deleted. OpenDAL offers no
  server-side concatenation (S3 UploadPartCopy, GCS compose), so that costs one read and one write of
  the upload inside the store's network; the upload is usable as `upload://` once the data object
  exists. If the API stops while joining, the next HEAD or PATCH of the upload joins it again.

Either way the finished upload is exactly what `recast/infra/uploads.py` `resolve` expects: a data object
of the declared size under the organization's prefix, with its manifest beside it.
"""

from __future__ import annotations

from opendal.file import AsyncFile

from recast.infra.storage import Storage, upload_prefix
from recast.infra.uploads import UploadManifest


def appends(storage: Storage) -> bool:
    """Whether PATCHes append to the data object in place (local storage) rather than being parts."""
    return storage.local_root is not None


def parts_prefix(manifest: UploadManifest) -> str:
    return f"{upload_prefix(manifest.organization, manifest.upload_id)}parts/"


def part_key(manifest: UploadManifest, offset: int) -> str:
    return f"{parts_prefix(manifest)}{offset:020d}"


async def _parts(storage: Storage, manifest: UploadManifest) -> dict[int, int]:
    """The stored parts as {start offset: size}."""
    parts: dict[int, int] = {}
    prefix = parts_prefix(manifest)
    async for entry in await storage.op.list(prefix):
        name = entry.path[len(prefix) :]
        if name.isdigit():
            size = entry.metadata.content_length if entry.metadata else None
            if size is None:
                size = await storage.size(entry.path) or 0
            parts[int(name)] = int(size)
    return parts


def _chain(parts: dict[int, int]) -> list[tuple[int, int]]:
    """The parts that continue each other from offset 0, in order (others are leftovers of PATCHes
    that a client sent again elsewhere: ignored, and deleted with the rest at the end)."""
    chain, offset = [], 0
    while parts.get(offset):
        chain.append((offset, parts[offset]))
        offset += parts[offset]
    return chain


async def offset(storage: Storage, manifest: UploadManifest) -> int:
    """How many bytes of the upload have arrived: where the next PATCH must start."""
    stored = await storage.size(manifest.key)
    if appends(storage) or stored == manifest.size:
        return stored or 0
    return sum(size for _, size in _chain(await _parts(storage, manifest)))


async def writer(storage: Storage, manifest: UploadManifest, at: int) -> AsyncFile:
    """Where a PATCH starting at offset `at` writes its bytes (close it: what was written is kept)."""
    if appends(storage):
        if at == 0:
            return await storage.op.open(manifest.key, "wb")
        return await storage.op.open(manifest.key, "wb", append=True)
    return await storage.op.open(part_key(manifest, at), "wb")


async def finish(storage: Storage, manifest: UploadManifest) -> bool:
    """Make the data object once every byte has arrived (joining the parts on object stores); True
    when the upload is complete and usable."""
    stored = await storage.size(manifest.key)
    if appends(storage) or stored == manifest.size:
        return stored == manifest.size
    chain = _chain(await _parts(storage, manifest))
    if sum(size for _, size in chain) != manifest.size:
        return False
    out = await storage.op.open(manifest.key, "wb")
    try:
        for start, _ in chain:
            async for chunk in storage.iter_bytes(part_key(manifest, start)):
                await out.write(chunk)
    except BaseException:
        # OpenDAL's writer has no abort: what it wrote is committed on close, so delete it; the parts
        # are still there and the next HEAD or PATCH joins them again.
        await out.close()
        await storage.delete(manifest.key)
        raise
    await out.close()
    await storage.op.delete(parts_prefix(manifest), recursive=True)
    return True


async def terminate(storage: Storage, manifest: UploadManifest) -> None:
    """Delete everything of the upload: its bytes, parts and manifest."""
    await storage.op.delete(upload_prefix(manifest.organization, manifest.upload_id), recursive=True)

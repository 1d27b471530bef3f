"""Split-and-stitch for hls/dash ladders, the work behind encode_chunk and stitch_chunks when the output
is a ladder (activities/chunks.py dispatches here): a chunk decodes its frames once and encodes every
rung into a file of its own in storage; the stitch joins each rung's chunks by stream copy, encodes the
audio once, verifies every rung by a full decode, packages the rungs by stream copy and checks the
package as a whole ladder's (streaming.check_package) before staging it for the upload step.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

from activities.deps import Deps
from activities.output_step import EncodeProgress, run_encode
from activities.store import finish_dir
from recast.core.chunk_payloads import ChunkRequest, ChunkResult, StitchRequest, StitchResult
from recast.core.formats import OutputType
from recast.core.job import AudioInfo
from recast.core.payloads import EncodeResult
from recast.infra.storage import output_prefix
from recast.media import ladder_chunks, stitch, stitch_check, streaming
from recast.media.tools import MediaError


def rung_key(key: str, index: int) -> str:
    """Where rung `index` of a chunk goes in storage, next to the chunk's own key."""
    return f"{key.rsplit('.', 1)[0]}_r{index}.{ladder_chunks.RUNG_EXT}"


async def encode_chunk(
    deps: Deps, req: ChunkRequest, src: Path, workdir: Path, progress: EncodeProgress
) -> ChunkResult:
    enc, chunk = req.encode, req.chunk
    rate = Fraction(req.rate_num, req.rate_den)
    rungs = streaming.plan_rungs(enc.spec, enc.input_metadata, enc.input_metadata.framerate)
    dsts = [workdir / f"chunk_{chunk.index:05d}_r{r.index}.{ladder_chunks.RUNG_EXT}" for r in rungs]
    args = ladder_chunks.chunk_command(
        enc.spec, enc.input_metadata, rungs, src, dsts, chunk.start_frame, chunk.frames, chunk.offset, rate
    )
    await run_encode(args, float(chunk.frames / rate), enc, progress)
    keys, size = [], 0
    for rung, dst in zip(rungs, dsts, strict=True):
        got = await _frames(dst)
        if got != chunk.frames:
            raise MediaError(
                "stitch-mismatch",
                f"chunk {chunk.index}, rung {rung.name}: {got} frames, expected {chunk.frames}",
            )
        key = rung_key(req.key, rung.index)
        size += await deps.storage.adopt_file(key, dst)
        keys.append(key)
    return ChunkResult(index=chunk.index, key=req.key, frames=chunk.frames, size=size, rung_keys=keys)


async def _frames(path: Path) -> int:
    from activities.chunks import _packets  # one counting rule for every chunk

    return await _packets(path)


async def stitch_ladder(
    deps: Deps, req: StitchRequest, src: Path, workdir: Path, progress: EncodeProgress
) -> StitchResult:
    enc = req.encode
    spec, meta = enc.spec, enc.input_metadata
    rate = Fraction(req.rate_num, req.rate_den)
    seconds = float(req.total_frames / rate)
    started = time.monotonic()
    package = workdir / "package"
    package.mkdir()
    # The whole ladder's plan (rungs, manifest, audio, duration): what the package is checked against.
    plan = streaming.ladder_plan(spec, meta, src, package, clip=enc.clip)
    chunks = sorted(req.chunks, key=lambda c: c.index)
    rung_files = []
    for rung in plan.rungs:
        parts = [await _local(deps, c.rung_keys[rung.index], workdir) for c in chunks]
        listing = workdir / f"rung{rung.index}.ffconcat"
        listing.write_text(stitch.concat_list(parts))
        dst = workdir / f"rung{rung.index}.{ladder_chunks.RUNG_EXT}"
        await run_encode(
            ladder_chunks.stitch_rung_command(listing, dst, rung.variant.codec), seconds, enc, progress
        )
        rung_files.append(dst)
    audio_file = None
    if plan.audio_codec:
        audio_file = workdir / f"audio.{ladder_chunks.RUNG_EXT}"
        args = ladder_chunks.audio_command(spec, src, audio_file, req.total_frames, rate, req.first_frame)
        await run_encode(args, seconds, enc, progress)
    await run_encode(
        ladder_chunks.package_command(spec, plan.rungs, rung_files, audio_file, package),
        seconds,
        enc,
        progress,
    )
    audio_kbps = spec.audio_bitrate_kbps if audio_file else None
    if spec.type is OutputType.hls:
        ladder_chunks.set_hls_bandwidth(package, plan.rungs, audio_kbps)
    else:
        ladder_chunks.set_dash_bandwidth(package, plan.rungs, audio_kbps)
    stitched = time.monotonic()
    await _verify(rung_files, audio_file, req.total_frames, rate)
    try:
        info = await streaming.check_package(package, spec, plan, meta, workdir)
    except MediaError as err:  # not what a whole ladder makes: encoded whole instead (workflows/chunked.py)
        raise MediaError("stitch-mismatch", f"the chunked package: {err}") from err
    verified = time.monotonic()
    for path in [*rung_files, *([audio_file] if audio_file else [])]:
        path.unlink()  # not part of the package: not staged with it
    audio = info.audio
    audio_info = (
        AudioInfo(
            codec=audio.get("codec_name", "unknown"),
            bitrate_kbps=spec.audio_bitrate_kbps,
            channels=audio.get("channels"),
            sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
        )
        if audio
        else None
    )
    progress.stage = "uploading"
    prefix = output_prefix(enc.organization, enc.job_id, enc.output_id, enc.path)
    files, staged = await finish_dir(deps, enc, package, prefix)
    top = max(plan.rungs, key=lambda r: r.width * r.height)
    result = EncodeResult(
        storage_key=prefix + plan.entry,
        file_size_bytes=sum(f.size for f in files),
        duration_ms=round(info.duration_s * 1000),
        width=top.width,
        height=top.height,
        audio=audio_info,
        files=files,
        entry=plan.entry,
        staged=staged,
    )
    return StitchResult(
        result=result,
        stitch_ms=round((stitched - started) * 1000),
        verify_ms=round((verified - stitched) * 1000),
    )


async def _verify(rung_files: list[Path], audio_file: Path | None, frames: int, rate: Fraction) -> None:
    """Every joined rung decoded in full (no error, exactly `frames` frames, ending within a frame of
    its length) and the audio ending within 40 ms of the video: raises MediaError `stitch-mismatch`."""
    video_end = None
    for path in rung_files:
        report = await stitch_check.full_decode(path)
        stitch_check.verify(report, frames, rate, audio=False)
        video_end = report.video_end_s
    if audio_file is not None and video_end is not None:
        sound = await stitch_check.full_decode(audio_file)
        if sound.errors:
            raise MediaError("stitch-mismatch", "decoding the audio failed: " + " | ".join(sound.errors[:5]))
        merged = stitch_check.DecodeReport(frames, [], video_end, sound.audio_end_s)
        stitch_check.verify(merged, frames, rate, audio=True)


async def _local(deps: Deps, key: str, workdir: Path) -> Path:
    """A local path of a chunk's rung file: in place on fs storage, else downloaded into `workdir`."""
    local = deps.storage.local_path(key)
    if local is not None:
        return local
    path = workdir / "chunks" / key.rsplit("/", 1)[-1]
    await deps.storage.get_file(key, path)
    return path

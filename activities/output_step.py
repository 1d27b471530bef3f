"""What every output activity does around its ffmpeg run (encode_output, package_stream, encode_image,
make_thumbnails): heartbeats for the whole step, a fresh scratch folder removed whatever happens, the
local inputs, ffmpeg's progress, and failures turned into error codes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.ffmpeg_process import FfmpegFailed, FfmpegStalled, run_ffmpeg
from activities.scratch import local_input, remove, work_dir
from recast.core.job import InputMetadata
from recast.core.payloads import EncodeProgress, EncodeRequest
from recast.media import tools

HEARTBEAT_EVERY_S = 1.0
MEASURE_EVERY_S = 0.5
# A single picture is one frame of work: ffmpeg reports nothing until it is written, so there is no
# fraction done to measure. While ffmpeg makes it the output shows this — started, not finished —
# rather than 0, which reads as still waiting.
UNMEASURED_PERCENT = 50.0


@contextlib.asynccontextmanager
async def output_step(req: EncodeRequest, scratch: Path) -> AsyncIterator[tuple[EncodeProgress, Path]]:
    """(progress, scratch folder) for one output. Media errors fail it for good (a file that is not
    what it should be stays that way); a stalled or failed ffmpeg is retried."""
    progress = EncodeProgress(output_id=req.output_id, percent=_previous_percent())
    # Heartbeats run on their own clock: they say "this worker is alive" even while ffmpeg is quiet,
    # and carry the latest progress for the API to show.
    beat = asyncio.create_task(_heartbeat_loop(progress))
    workdir = work_dir(scratch, req.job_id, req.output_id)
    try:
        yield progress, workdir
    except tools.MediaError as exc:
        raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc
    except FfmpegStalled as exc:
        raise ApplicationError(str(exc), type="stalled") from exc
    except FfmpegFailed as exc:
        raise ApplicationError(str(exc), type="encode-failed") from exc
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        remove(workdir)


async def local_inputs(deps: Deps, req: EncodeRequest) -> tuple[Path, list[tuple[Path, InputMetadata]]]:
    """The local input, and a join's inputs (each a local file, like the single input)."""
    src = await local_input(deps.storage, deps.scratch, req.input_key)
    parts = [(await local_input(deps.storage, deps.scratch, p.key), p.metadata) for p in req.parts]
    return src, parts


async def run_encode(
    args: Sequence[str],
    duration_s: float,
    req: EncodeRequest,
    progress: EncodeProgress,
    measure: Callable[[], float] | None = None,
) -> None:
    """Run ffmpeg, its progress into `progress`; then the step is verifying.

    ffmpeg's progress is the output time it has written against `duration_s`; 0 when that says nothing
    (a single picture), which shows UNMEASURED_PERCENT while ffmpeg runs. `measure` gives the percent
    done measured outside ffmpeg, polled while it runs: ffmpeg reports nothing until it has opened every
    output, so a run whose last output opens at the end (a thumbnail sprite) is measured by its files."""

    def on_progress(percent: float) -> None:
        # A retry starts from zero; hold what was already shown so progress never goes back.
        progress.percent = max(progress.percent, round(percent, 1))

    if duration_s <= 0 and measure is None:
        on_progress(UNMEASURED_PERCENT)
    watch = asyncio.create_task(_measure_loop(measure, on_progress)) if measure else None
    try:
        # Without output time to report (one picture) or with a sprite that ffmpeg writes only at the end,
        # ffmpeg prints nothing until it is done: its CPU time is what tells working from stalled.
        silent = duration_s <= 0 or measure is not None
        await run_ffmpeg(args, duration_s, req.stall_timeout_s, on_progress, silent_while_working=silent)
    finally:
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
    progress.stage, progress.percent = "verifying", 100.0


async def _measure_loop(measure: Callable[[], float], on_progress: Callable[[float], None]) -> None:
    while True:
        await asyncio.sleep(MEASURE_EVERY_S)
        on_progress(min(100.0, measure()))


def _previous_percent() -> float:
    """The percent the previous attempt reported (heartbeat details come back as plain dicts)."""
    details = activity.info().heartbeat_details
    if details and isinstance(details[0], dict):
        return float(details[0].get("percent", 0.0))
    return 0.0


async def _heartbeat_loop(progress: EncodeProgress) -> None:
    while True:
        activity.heartbeat(progress.model_dump())
        await asyncio.sleep(HEARTBEAT_EVERY_S)

"""Split-and-stitch encoding: the `chunking` choice of a job and which outputs it applies to (the
payloads of its activities are in recast/core/chunk_payloads.py).

A chunk is a run of whole frames of the source, `[start_frame, start_frame + frames)`, encoded on its
own by any worker's chunk slot (the `{task queue}-chunks` queue) and kept in storage under a temporary
prefix until the stitch step concatenates the chunks by stream copy and muxes the audio, encoded once
for the whole timeline. Only pydantic and recast.core: importable inside the workflow sandbox.
"""

from __future__ import annotations

import math
from enum import StrEnum

from recast.core.formats import OutputType
from recast.core.specs import OutputSpec

CHUNK_DURATION_MIN_S = 1.0
CHUNK_DURATION_MAX_S = 600.0
CHUNK_QUEUE_SUFFIX = "-chunks"
"""Chunks run on `{task queue}-chunks`, polled by every worker with RECAST_CHUNK_SLOTS slots: a queue of
their own so that one worker's slots never take every chunk of a job (the SDK starts an activity on the
workflow's own worker, eagerly, when it is scheduled on the workflow's queue)."""


class Chunking(StrEnum):
    """Whether a job's video outputs are encoded as chunks spread over the workers, then stitched."""

    auto = "auto"  # when it pays: a long enough input, more than one chunk slot in the fleet
    on = "on"  # whenever the output and input allow it
    off = "off"  # never: each output is one encode


CHUNKS_SHARE = 90
"""Percent of a chunked output's progress its chunks make; the stitch, check and upload the rest."""


def chunks_progress(done: int, count: int) -> int:
    """A chunked output's progress with `done` of `count` chunks encoded (the workflow's own state)."""
    return CHUNKS_SHARE * done // count


def live_chunks_progress(progress: int, count: int, running: list[float]) -> int:
    """A chunked output's live progress: the mean over its `count` chunks, those finished (recovered
    from the workflow's `progress`, chunks_progress) at 100 %, the running ones at their heartbeats'
    percent (`running`), the others at 0, scaled to the chunks' share."""
    done = min(count, math.ceil(progress * count / CHUNKS_SHARE - 1e-9))
    percents = sorted(running, reverse=True)[: count - done]
    mean = (100 * done + sum(min(100.0, max(0.0, p)) for p in percents)) / count
    return max(progress, min(CHUNKS_SHARE, int(CHUNKS_SHARE * mean / 100)))


def chunk_queue(task_queue: str) -> str:
    return task_queue + CHUNK_QUEUE_SUFFIX


def chunkable(spec: OutputSpec) -> bool:
    """Whether this kind of output can be chunked: a single-file video output (h264, h265, vp9, av1 in
    mp4, mov, webm or mkv) or an hls/dash ladder (each chunk encodes every rung). An output with a
    watermark, burned-in captions, background removal or loudness is encoded whole: the chunk command
    (media/chunks.py, media/ladder_chunks.py) and the stitch make none of them yet, and an output
    without them would be wrong, not slower."""
    finished = (
        spec.watermark is not None
        or spec.burn_in is not None
        or spec.background is not None
        or spec.audio.loudness is not None
    )
    return bool(spec.video) and spec.type is not OutputType.thumbnails and not finished


def chunking_unsupported(specs: list[OutputSpec], *, joined: bool) -> str | None:
    """Why `"chunking": "on"` cannot apply to this job (the API answers 400); None when it can. `auto`
    never refuses: it encodes such outputs whole."""
    if joined:
        return 'chunking "on" does not do joined inputs yet; use "auto" (encoded whole) or "off"'
    return None


# The split-and-stitch settings' descriptions (recast/infra/config.py, docs/configuration.md).
CHUNK_SLOTS_DOC = (
    "Chunks of a split-and-stitch encode one worker encodes at once (it polls `{task queue}-chunks` with "
    "this many slots); each chunk's ffmpeg uses every core it can."
)
CHUNK_DURATION_DOC = "Seconds of video per chunk when a job gives no `chunk_duration`."
CHUNKING_MIN_DOC = (
    '`"chunking": "auto"` chunks inputs at least this long (and only with more than one chunk slot in the '
    "fleet); shorter ones are encoded whole."
)
WORKER_NICE_DOC = (
    "How much lower a worker's CPU priority is than the API's and Temporal's (`nice`, 0-19; its ffmpeg "
    "inherits it): encodes are batch work, so on a machine shared with them they yield the CPU to reads "
    "and orchestration, and take all of it otherwise. 0: the same priority."
)
WORKERS_DOC = (
    "Worker processes `make run` starts (each with its chunk slots), to see split-and-stitch spread one "
    "encode over them on one machine."
)

"""Run one ffmpeg process: report its progress, kill it when it stalls or the activity is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
from collections import deque
from collections.abc import Callable, Sequence

PR_SET_PDEATHSIG = 1


class FfmpegFailed(Exception):
    """ffmpeg exited non-zero; the message is the tail of its stderr."""


class FfmpegStalled(Exception):
    """ffmpeg printed no progress for the stall timeout and was killed."""


def _die_with_parent() -> None:
    # If the worker is SIGKILLed its ffmpeg must not keep burning CPU as an orphan: the kernel sends
    # SIGKILL to the child when the parent dies (Linux only; harmless no-op elsewhere).
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def run_ffmpeg(
    args: Sequence[str],
    duration_s: float,
    stall_timeout_s: float,
    on_progress: Callable[[float], None],
) -> None:
    """Run `args` (which include `-progress pipe:1`); call `on_progress` with 0–100 as it advances.

    Raises FfmpegStalled when no progress line arrives for `stall_timeout_s` (a hung decoder),
    FfmpegFailed on a non-zero exit. On cancellation the process is killed before re-raising.
    """
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    assert proc.stdout and proc.stderr
    stderr_tail: deque[str] = deque(maxlen=20)

    async def drain_stderr() -> None:
        assert proc.stderr
        async for line in proc.stderr:
            stderr_tail.append(line.decode(errors="replace").rstrip())

    stderr_task = asyncio.create_task(drain_stderr())
    try:
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=stall_timeout_s)
            except TimeoutError:
                raise FfmpegStalled(f"ffmpeg made no progress for {stall_timeout_s:g}s") from None
            if not line:
                break
            key, _, value = line.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit() and duration_s > 0:
                on_progress(min(100.0, int(value) / 1e6 / duration_s * 100))
        code = await proc.wait()
        await stderr_task
        if code != 0:
            raise FfmpegFailed(f"ffmpeg exited with {code}: " + " | ".join(stderr_tail)[-1000:])
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            # Shielded so a cancelled activity still reaps its child instead of leaving a zombie.
            await asyncio.shield(proc.wait())
        stderr_task.cancel()

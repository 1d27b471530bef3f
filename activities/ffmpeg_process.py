"""Run one ffmpeg process: report its progress, kill it when it stalls or the activity is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from recast.infra.logs import redact_command

PR_SET_PDEATHSIG = 1
log = logging.getLogger("recast.ffmpeg")


class FfmpegFailed(Exception):
    """ffmpeg exited non-zero; the message is the tail of its stderr."""


class FfmpegStalled(Exception):
    """ffmpeg printed no progress for the stall timeout and was killed."""


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a running process has used, from /proc; None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    *,
    silent_while_working: bool = False,
) -> None:
    """Run `args` (which include `-progress pipe:1`); call `on_progress` with 0–100 as it advances.

    Raises FfmpegStalled when no progress line arrives for `stall_timeout_s` (a hung decoder),
    FfmpegFailed on a non-zero exit. On cancellation the process is killed before re-raising.

    `silent_while_working`: ffmpeg prints no progress line while it works on this run (one large
    picture: a single frame's encode; a sprite sheet: the `tile` filter holds every frame until the
    end), so silence alone says nothing. Such a run is stalled only when it is silent *and* used no CPU
    for `stall_timeout_s` (a hung or stopped process); one that keeps computing is left to finish.
    """
    # The command is logged redacted: its paths are local, but a future input or option may carry a URL.
    log.info("ffmpeg started", extra={"command": redact_command(args)})
    started = time.monotonic()
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
    cpu_before = cpu_seconds(proc.pid)
    next_line = asyncio.ensure_future(proc.stdout.readline())
    try:
        while True:
            done, _ = await asyncio.wait({next_line}, timeout=stall_timeout_s)
            if not done:
                cpu_now = cpu_seconds(proc.pid)
                working = cpu_before is not None and cpu_now is not None and cpu_now > cpu_before
                if not (silent_while_working and working):
                    log.warning("ffmpeg stalled: killed", extra={"stderr_tail": list(stderr_tail)})
                    raise FfmpegStalled(f"ffmpeg made no progress for {stall_timeout_s:g}s")
                cpu_before = cpu_now
                continue
            line = next_line.result()
            if not line:
                break
            next_line = asyncio.ensure_future(proc.stdout.readline())
            key, _, value = line.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit() and duration_s > 0:
                on_progress(min(100.0, int(value) / 1e6 / duration_s * 100))
        code = await proc.wait()
        await stderr_task
        seconds = round(time.monotonic() - started, 3)
        if code != 0:
            log.warning(
                "ffmpeg exited with %d", code, extra={"seconds": seconds, "stderr_tail": list(stderr_tail)}
            )
            raise FfmpegFailed(f"ffmpeg exited with {code}: " + " | ".join(stderr_tail)[-1000:])
        log.info("ffmpeg finished", extra={"seconds": seconds})
    finally:
        next_line.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            # Shielded so a cancelled activity still reaps its child instead of leaving a zombie.
            await asyncio.shield(proc.wait())
        stderr_task.cancel()

"""run_ffmpeg's stall check on runs where ffmpeg prints no progress while it works: one large picture
(a single AVIF frame) is silent until it is written, yet busy. Real ffmpeg, a generated picture."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from activities.ffmpeg_process import FfmpegStalled, cpu_seconds, run_ffmpeg
from recast.media.tools import GLOBAL_ARGS
from tests.helpers import ffprobe, stream
from tests.helpers.processes import alive, ffmpeg_pids

STALL_S = 0.4  # far below the ~2 s libaom takes for the picture below on this machine


def one_avif(dest: Path) -> list[str]:
    """One 1024x1024 AVIF frame: libaom works on it for seconds and ffmpeg prints nothing meanwhile."""
    picture = "testsrc2=size=1024x1024:rate=1"
    encode = ["-frames:v", "1", "-c:v", "libaom-av1", "-crf", "30", "-pix_fmt", "yuv420p", "-f", "avif"]
    return ["ffmpeg", *GLOBAL_ARGS, "-f", "lavfi", "-i", picture, *encode, str(dest)]


def test_a_busy_silent_picture_encode_is_left_to_finish(tmp_path: Path) -> None:
    dest = tmp_path / "busy.avif"
    asyncio.run(run_ffmpeg(one_avif(dest), 0, STALL_S, lambda _: None, silent_while_working=True))
    picture = stream(ffprobe(dest), "video")
    assert picture is not None
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("av1", 1024, 1024)


def test_silence_alone_is_a_stall_where_ffmpeg_should_report(tmp_path: Path) -> None:
    dest = tmp_path / "silent.avif"
    with pytest.raises(FfmpegStalled):
        asyncio.run(run_ffmpeg(one_avif(dest), 0, STALL_S, lambda _: None))
    assert not ffmpeg_pids(str(dest)), "the stalled ffmpeg was not killed"


def test_a_stopped_silent_encode_is_still_a_stall(tmp_path: Path) -> None:
    """A hung process uses no CPU: silent *and* idle is a stall even where silence is expected."""
    dest = tmp_path / "stopped.avif"

    async def stop_it() -> None:
        for _ in range(1000):  # ~10 s at most for ffmpeg to appear
            if pids := ffmpeg_pids(str(dest)):
                os.kill(pids[0], signal.SIGSTOP)
                return
            await asyncio.sleep(0.01)

    async def run() -> None:
        stopper = asyncio.create_task(stop_it())
        try:
            await run_ffmpeg(one_avif(dest), 0, STALL_S, lambda _: None, silent_while_working=True)
        finally:
            stopper.cancel()

    with pytest.raises(FfmpegStalled):
        asyncio.run(run())
    assert not [pid for pid in ffmpeg_pids(str(dest)) if alive(pid)], "the stopped ffmpeg was not killed"


def test_cpu_seconds_reads_a_process_and_gives_none_for_a_gone_one() -> None:
    used = cpu_seconds(os.getpid())
    assert used is not None and used > 0  # this test process has run Python for a while
    assert cpu_seconds(2**22 + 1) is None  # above Linux's largest PID

"""RECAST_WORKER_NICE: the worker (and the ffmpeg it starts) runs at a lower CPU priority than the API,
so on a shared machine encodes yield the CPU to reads (docs/operations.md)."""

from __future__ import annotations

import os
from pathlib import Path

from recast.devstack.stack import Stack


def nice(pid: int) -> int:
    """The process's nice value, from /proc (proc(5): field 19)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_the_worker_runs_below_the_api(stack: Stack) -> None:
    base = os.nice(0)
    assert nice(stack.procs["api"].pid) == base
    assert nice(stack.procs["worker"].pid) == min(19, base + 10)

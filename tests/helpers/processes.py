"""Which ffmpeg processes are running, read from /proc: cancellation tests check that a cancelled encode
leaves no ffmpeg behind."""

from __future__ import annotations

from pathlib import Path


def ffmpeg_pids(needle: str) -> list[int]:
    """PIDs of running ffmpeg processes whose command line contains `needle`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"ffmpeg") and needle.encode() in b" ".join(cmd):
            pids.append(int(entry.name))
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"

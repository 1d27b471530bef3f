"""ffprobe, started before it is needed: a probe costs ~20 ms instead of ~75 ms.

Every ffprobe start costs ~55 ms of CPU before it opens its file: Debian's build links 215 libraries
with BIND_NOW, so the dynamic linker resolves ~43,000 symbols each time (perf: two thirds of the
start-up is in ld.so). A job probes twice on its critical path — its input, then every output before
it may be `completed` — so the worker keeps one ffprobe started ahead and hands it the next file.

The spare is held at a gate before it opens anything: its stderr is a pipe we filled to the brim, so
the banner it prints before opening its input blocks it. Its input is a symlink that does not exist
yet; to probe a file we create the link and drain the pipe, and it goes on exactly as a fresh ffprobe
on that file would: same arguments, same whitelists, a seekable file. Whenever the spare cannot give
an answer, the ordinary `probe.probe_raw` runs, so results and errors are the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recast.media import probe, tools

F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named in the module only from Python 3.12
GATE_BYTES = 4096  # the smallest pipe Linux makes: one page


@dataclass
class _Spare:
    # A plain Popen, read from threads: not tied to an event loop (tests run one loop after another).
    proc: subprocess.Popen[bytes]
    gate: int | None  # the read end of the gate pipe, until draining it takes it over
    folder: Path

    async def probe(self, path: Path) -> dict[str, Any] | None:
        """ffprobe's report on `path`, or None when this ffprobe failed (the caller probes again)."""
        assert self.proc.stdout and self.gate is not None
        # Absolute: the link lives in another folder than a relative path is relative to.
        os.symlink(os.path.join(os.getcwd(), path), self.folder / "input")
        # Draining the gate lets it go on; its log (the banner, the stream dump) is of no use here.
        gate, self.gate = self.gate, None
        out, _ = await asyncio.gather(
            asyncio.to_thread(self.proc.stdout.read), asyncio.to_thread(_drain, gate)
        )
        self.proc.stdout.close()
        if await asyncio.to_thread(self.proc.wait) != 0:
            return None
        data: dict[str, Any] = json.loads(out or b"{}")
        return data

    def discard(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()  # at once after SIGKILL: no zombie left behind
        if self.gate is not None:  # never used; once used, the threads reading it close its pipes
            os.close(self.gate)
            self.gate = None
            if self.proc.stdout:
                self.proc.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _drain(fd: int) -> None:
    """Read `fd` to its end (the ffprobe exited), then close it."""
    try:
        while os.read(fd, 65536):
            pass
    finally:
        os.close(fd)


def _start() -> _Spare | None:
    """A new ffprobe, stopped at the gate: a fork and exec in the caller's thread (~0.6 ms, idle)."""
    try:
        folder = Path(tempfile.mkdtemp(prefix="recast-probe-"))
    except OSError:
        return None
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, F_SETPIPE_SZ, GATE_BYTES)
        os.set_blocking(write_end, False)
        with contextlib.suppress(BlockingIOError):
            while os.write(write_end, b"\n" * GATE_BYTES):
                pass
        os.set_blocking(write_end, True)  # so that its first write waits
        proc = subprocess.Popen(
            [
                tools.FFPROBE,
                # Info level: the banner is what it writes (and waits on) before opening its input.
                "-loglevel",
                "info",
                "-print_format",
                "json",
                *probe.probe_args(f"file:{folder / 'input'}"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=write_end,
        )
    except OSError:
        os.close(read_end)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    finally:
        os.close(write_end)
    return _Spare(proc, read_end, folder)


class WarmProbes:
    """One ffprobe kept started ahead; `probe_raw` is `probe.probe_raw`, sooner."""

    def __init__(self) -> None:
        self._spare: _Spare | None = None

    async def probe_raw(self, path: Path) -> dict[str, Any]:
        """The same report and the same MediaError as `probe.probe_raw(path)`."""
        spare, self._spare = self._spare, None
        # The next one starts now, so its start-up overlaps this probe rather than the next.
        self._spare = _start()
        if spare is not None:
            try:
                data = await spare.probe(path)
            except OSError:
                data = None  # e.g. no symlinks where the temp folder is: probe the usual way
            finally:
                spare.discard()
            if data is not None:
                return data
        return await probe.probe_raw(path)

    def close(self) -> None:
        """Stop the waiting ffprobe (at worker shutdown)."""
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

"""What the `recast` command shows while it works: rich progress bars on a terminal — the upload (bytes
and speed), the encoding (the job, and each output on a bar of its own, driven by the job's events
stream) and the downloads (bytes per file) — and plain lines when the output is not a terminal (a pipe,
a log file, CI), where a redrawn bar would be noise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from recast.client.base import DownloadProgress, EventCallback, UploadProgress
from recast.core.job import Job, Output
from recast.core.responses import JobEvent


def render_bar(job: Job, width: int = 30) -> str:
    """The plain form of the job's progress: `[#######.......]  47% encoding`."""
    filled = round(width * job.progress / 100)
    return f"[{'#' * filled}{'.' * (width - filled)}] {job.progress:3d}% {job.stage.value}"


def output_label(out: Output) -> str:
    what = out.preset or out.type.value
    size = f" {out.video[0].resolution.value}" if out.video and out.video[0].resolution else ""
    return f"{out.id} {what}{size}"


class Display:
    """Progress on stderr: rich bars when `interactive`, plain lines otherwise."""

    def __init__(self, console: Console | None = None, interactive: bool | None = None) -> None:
        self.console = console or Console(stderr=True)
        if interactive is None:
            interactive = self.console.is_terminal and not os.environ.get("CI")
        self.interactive = interactive

    def _bytes_bars(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.console,
            transient=False,
        )

    def line(self, text: str) -> None:
        print(text, file=self.console.file, flush=True)

    @contextmanager
    def uploading(self, path: Path) -> Iterator[UploadProgress]:
        size = path.stat().st_size
        if not self.interactive:
            # Nothing: the job's id stays the first line on stderr, which scripts read.
            yield lambda sent, total: None
            return
        with self._bytes_bars() as bars:
            task = bars.add_task(f"upload {path.name}", total=size)
            yield lambda sent, total: bars.update(task, completed=sent, total=total)

    @contextmanager
    def encoding(self) -> Iterator[EventCallback]:
        """A callback for `wait(on_event=…)`: a bar for the job and one per output."""
        if not self.interactive:
            last = [""]

            def plain(event: JobEvent) -> None:
                if (text := render_bar(event.job)) != last[0]:
                    self.line(text)
                    last[0] = text

            yield plain
            return
        bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        tasks: dict[str, TaskID] = {}
        with bars:

            def draw(event: JobEvent) -> None:
                job = event.job
                if "job" not in tasks:
                    tasks["job"] = bars.add_task(job.id, total=100, state="")
                    for out in job.outputs:
                        tasks[out.id] = bars.add_task("  " + output_label(out), total=100, state="")
                bars.update(
                    tasks["job"], completed=job.progress, state=f"{job.status.value}: {job.stage.value}"
                )
                for out in job.outputs:
                    if out.id in tasks:
                        bars.update(tasks[out.id], completed=out.progress, state=out.status.value)

            yield draw

    @contextmanager
    def downloading(self) -> Iterator[DownloadProgress]:
        if not self.interactive:
            done: set[tuple[str, str]] = set()

            def plain(out: Output, name: str, got: int, total: int) -> None:
                if total and got >= total and (out.id, name) not in done:
                    done.add((out.id, name))
                    self.line(f"downloaded {out.id} {name} ({got} bytes)")

            yield plain
            return
        # One bar per output: a folder output (an HLS ladder: a playlist and many segments) is one
        # download of its files' total size, not a bar per segment.
        with self._bytes_bars() as bars:
            tasks: dict[str, TaskID] = {}
            files: dict[str, dict[str, int]] = {}

            def draw(out: Output, name: str, got: int, total: int) -> None:
                if out.id not in tasks:
                    size = out.file_size_bytes or total or None
                    tasks[out.id] = bars.add_task(f"download {out.filename or out.id}", total=size)
                files.setdefault(out.id, {})[name] = got
                bars.update(tasks[out.id], completed=sum(files[out.id].values()))

            yield draw

"""`recast batch …`: many jobs at once (`/v1/batches`) from the command line, through the SDK's
`submit_batch`, `wait_batch`, `get_batch`, `batch_jobs` and `cancel_batch`; while a batch is followed,
a rich bar of its ended jobs and their counts (a plain line per change when not on a terminal).

    recast batch submit a.mp4 b.mp4 https://example.com/c.mp4 -o mp4:h264:720p --wait --download out/
    recast batch submit *.mov --template web --metadata run=nightly
    recast batch submit --jobs jobs.json         (a JSON list of POST /v1/jobs bodies; - reads stdin)
    recast batch get bat_…      recast batch wait bat_…      recast batch cancel bat_…
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recast.client.base import BatchCallback, RecastError, is_url, local_file
from recast.client.cli import OUTPUT_FORMS, parse_metadata, parse_output
from recast.client.progress import Display
from recast.client.sync import Recast
from recast.core.batches import Batch, BatchCounts, BatchStatus
from recast.core.job import Job, JobStatus

COMMAND = "batch"
# The batch's jobs are listed from Temporal visibility, a moment behind the batch's own counts: how long
# to wait for every job to be listed once the batch has ended.
LISTING_LAG_S = 30.0


def parse_jobs(text: str) -> list[dict[str, Any]]:
    """`--jobs FILE`: a JSON list of `POST /v1/jobs` bodies (`-`: from stdin)."""
    try:
        raw = sys.stdin.read() if text == "-" else Path(text).read_text()
        jobs = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text}: not a JSON list of jobs ({exc})") from None
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        raise argparse.ArgumentTypeError(f"{text}: expected a JSON list of job objects")
    return jobs


def add_parser(sub: Any) -> None:
    """`recast batch` and its commands, on the `recast` parser's subparsers."""
    p = sub.add_parser(COMMAND, help="many jobs at once: submit, get, wait, cancel")
    cmds = p.add_subparsers(dest="batch_command", required=True)
    p_submit = cmds.add_parser("submit", help="submit files or URLs (one job each) and/or --jobs")
    p_submit.add_argument("sources", nargs="*", metavar="SOURCE", help="local files to upload, or URLs")
    p_submit.add_argument("-o", "--output", action="append", type=parse_output, metavar="OUTPUT",
                          help=f"every SOURCE's outputs: {OUTPUT_FORMS} (repeat for more)")  # fmt: skip
    p_submit.add_argument("--template", help="every SOURCE's job takes its fields from this template")
    p_submit.add_argument("--priority", choices=["economy", "standard", "premium"])
    p_submit.add_argument("--jobs", type=parse_jobs, default=[], metavar="FILE",
                          help="a JSON list of job bodies as in POST /v1/jobs (- reads stdin)")  # fmt: skip
    p_submit.add_argument("--metadata", action="append", type=parse_metadata, default=[],
                          metavar="KEY=VALUE", help="the batch's own metadata")  # fmt: skip
    p_submit.add_argument("--webhook-url", help="receives batch.completed once")
    p_submit.add_argument("--webhook-secret")
    add_follow(p_submit)
    p_get = cmds.add_parser("get", help="show a batch and a page of its jobs as JSON")
    p_get.add_argument("batch_id")
    p_get.add_argument("--status", help="only its jobs with this status")
    p_get.add_argument("--limit", type=int, default=50)
    p_get.add_argument("--cursor", help="next_cursor of the previous page")
    p_wait = cmds.add_parser("wait", help="follow a batch until its last job ends")
    p_wait.add_argument("batch_id")
    add_follow(p_wait, waits=True)
    cmds.add_parser("cancel", help="cancel a batch's running jobs, start no more").add_argument("batch_id")


def add_follow(p: argparse.ArgumentParser, waits: bool = False) -> None:
    if not waits:
        p.add_argument("--wait", action="store_true", help="follow the batch with a progress bar")
    p.add_argument("--download", type=Path, metavar="DIR",
                   help="save each job's finished outputs in DIR/<job id>/" + ("" if waits else " (implies --wait)"))  # fmt: skip


def ended(counts: BatchCounts) -> int:
    return counts.completed + counts.partial + counts.failed + counts.canceled


def counts_text(counts: BatchCounts) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.model_dump().items() if n)


def render_batch(batch: Batch, width: int = 30) -> str:
    """The plain form of a batch's progress: `[######........] 3/10 ended: completed 3, running 2, …`."""
    filled = round(width * ended(batch.counts) / batch.total) if batch.total else width
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {ended(batch.counts)}/{batch.total} ended: {counts_text(batch.counts) or '-'}"


@contextmanager
def following(display: Display) -> Iterator[BatchCallback]:
    """A callback for `wait_batch(on_update=…)`: a rich bar of ended jobs on a terminal, else a plain
    line each time the counts change."""
    if not display.interactive:
        last = [""]

        def plain(batch: Batch) -> None:
            if (text := render_batch(batch)) != last[0]:
                display.line(text)
                last[0] = text

        yield plain
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=display.console,
    )
    with bars:
        task = bars.add_task("", total=None, state="")

        def draw(batch: Batch) -> None:
            state = f"{batch.status.value}: {counts_text(batch.counts)}"
            bars.update(
                task, description=batch.id, total=batch.total, completed=ended(batch.counts), state=state
            )

        yield draw


def final_jobs(client: Recast, batch: Batch) -> list[Job]:
    """Every job of an ended batch as it ended: listed (waiting for the listing to catch up, within
    LISTING_LAG_S), each job the listing still shows running read on its own."""
    deadline = time.monotonic() + LISTING_LAG_S
    while True:
        jobs = list(client.batch_jobs(batch.id, page_size=100))
        if len(jobs) >= batch.total - batch.counts.canceled or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return [job if job.status.terminal else client.get(job.id) for job in reversed(jobs)]


def follow(client: Recast, batch_id: str, download: Path | None, display: Display) -> int:
    """Follow the batch to its end, say how each job ended, download; 0 when every job completed."""
    with following(display) as on_update:
        batch = client.wait_batch(batch_id, on_update)
    jobs = final_jobs(client, batch)
    for job in jobs:
        note = (
            job.status.value
            if job.status is JobStatus.completed
            else f"{job.status.value} {job.error_code or ''}"
        )
        print(f"  {job.id} {job.input.filename or job.input.url or ''}  {note}".rstrip(), file=sys.stderr)
    if download:
        with display.downloading() as on_progress:
            for job in jobs:
                for path in client.download(job, download / job.id, on_progress):
                    print(path)
    all_done = batch.status is BatchStatus.completed and batch.counts.completed == batch.total
    return 0 if all_done else 1


def submit(client: Recast, args: argparse.Namespace, display: Display) -> int:
    per_source = {"outputs": args.output, "template": args.template, "priority": args.priority}
    if args.sources and not (args.output or args.template):
        raise RecastError(400, "invalid-input", "give -o OUTPUT or --template NAME for the SOURCEs")
    jobs: list[dict[str, Any]] = []
    for source in args.sources:
        if is_url(source):
            input_url = source
        else:
            with display.uploading(local_file(source)) as on_upload:
                input_url = client.upload(source, on_upload).input_url
        jobs.append({"input_url": input_url, **{k: v for k, v in per_source.items() if v is not None}})
    jobs += args.jobs
    if not jobs:
        raise RecastError(400, "invalid-input", "no jobs: give SOURCEs or --jobs FILE")
    batch = client.submit_batch(
        jobs,
        metadata=dict(args.metadata) or None,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    print(batch.id, file=sys.stderr)
    if not (args.wait or args.download):
        print(batch.model_dump_json(indent=2))
        return 0
    return follow(client, batch.id, args.download, display)


def run(client: Recast, args: argparse.Namespace, display: Display) -> int:
    """One `recast batch` command, through the SDK."""
    cmd = args.batch_command
    if cmd == "submit":
        return submit(client, args, display)
    if cmd == "get":
        page = client.get_batch(args.batch_id, status=args.status, limit=args.limit, cursor=args.cursor)
        print(page.model_dump_json(indent=2))
        return 0
    if cmd == "wait":
        return follow(client, args.batch_id, args.download, display)
    batch = client.cancel_batch(args.batch_id)
    print(f"{batch.id} {batch.status.value}")
    return 0

"""`recast`: submit a job, follow it with progress bars, download the results — through the Python SDK
(`recast.client.Recast`), with rich progress bars on a terminal (recast/client/progress.py).

    recast submit clip.mp4 -o mp4:h264:720p -o webm:vp9:480p:economy --wait --download out/
    recast submit https://example.com/clip.mp4 -o mp4:h264 --priority premium --delayed-start
    recast submit talk.mov -o preset:hls-ladder -o mp3 -o '{"type": "thumbnails", "thumbnails": {"count": 5}}'
    recast submit clip.mp4 -o mp4:h264:720p -o preset:hls-ladder --metrics ssim,psnr --wait
    recast submit talk.mov -o mp4:h264 -o preset:hls-ladder --loudness -16 --captions talk.en.vtt:en:English
    recast submit talk.mov -o mp4:h264:720p -o gif -o waveform --watermark logo.png --watermark-position top-left
    recast status job_…          recast confirm job_…          recast cancel job_…
    recast list --status failed  recast download job_… out/   recast webhooks job_…
    recast check-temporal        (is Temporal reachable as configured, and are workers polling?)
    recast submit clip.mp4 --template web --wait
    recast template create|list|get|update|delete …       (cli_template.py)
    recast batch submit a.mp4 b.mp4 -o mp4:h264 --wait     recast batch get|wait|cancel bat_…   (cli_batch.py)

API address and key come from RECAST_API_URL (default http://127.0.0.1:8000) and RECAST_API_KEY
(default: the key `make run` generated in $RECAST_DATA_DIR/api_key). `check-temporal` talks to Temporal
directly, configured as the workers are: Temporal's own TEMPORAL_* variables or TOML profile, and the
task queue of RECAST_TASK_QUEUE.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recast.client import child, finishing
from recast.client.base import RecastError, is_url, local_file
from recast.client.progress import Display, render_bar
from recast.client.sync import Recast
from recast.core import presets
from recast.core.formats import WATERMARK_TYPES, OutputType
from recast.core.job import Job, JobStatus, Output, OutputStatus
from recast.core.quality import Metric, is_remux
from recast.core.specs import OutputSpec
from recast.core.watermark import Position

__all__ = ["main", "parse_clip", "parse_metrics", "parse_output", "render_bar", "watermarked", "with_metrics"]


OUTPUT_FORMS = "type:codec[:resolution][:quality], a type alone (mp3, webp, …), preset:NAME, or JSON"


def parse_output(text: str) -> dict[str, Any]:
    """An output spec from the command line: `mp4:h264:720p:premium`; a type that needs no video codec
    alone (`mp3`, `webp`, `thumbnails`); `preset:web`; or the spec's JSON, as in `POST /v1/jobs`."""
    if text.lstrip().startswith("{"):
        try:
            spec: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: not valid JSON ({exc})") from None
        return spec
    parts = text.split(":")
    if parts[0] == "preset":
        if len(parts) != 2 or not parts[1]:
            raise argparse.ArgumentTypeError(f"{text!r}: expected preset:NAME (GET /v1/presets lists them)")
        return {"preset": parts[1]}
    if len(parts) == 1 and parts[0]:
        return {"type": parts[0]}
    if len(parts) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {OUTPUT_FORMS}")
    video: dict[str, str] = {"codec": parts[1]}
    for extra in parts[2:]:
        video["resolution" if extra.endswith("p") else "quality"] = extra
    return {"type": parts[0], "video": video}


def watermarked(outputs: list[dict[str, Any]], image: str, position: str | None) -> list[dict[str, Any]]:
    """`outputs` with a watermark of `image` (a URL or `upload://…`) on every video output (mp4, webm,
    mkv, mov, hls, dash; a preset's by its type); the others unchanged. One without video: an error."""
    marked = []
    for spec in outputs:
        kind = spec.get("type")
        if kind is None and spec.get("preset") in presets.CATALOG:
            kind = presets.expand(spec["preset"]).get("type")
        if kind in {t.value for t in WATERMARK_TYPES} and "watermark" not in spec:
            spec = {**spec, "watermark": {"image": image, **({"position": position} if position else {})}}
        marked.append(spec)
    if marked == outputs:
        raise argparse.ArgumentTypeError(
            "--watermark: none of the outputs is a video (mp4, webm, mkv, mov, hls, dash)"
        )
    return marked


def parse_metadata(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    return key, value


def parse_clip(text: str) -> dict[str, float]:
    """`START:END` in seconds, either side may be empty: `12.5:42`, `:30`, `60:`."""
    start, sep, end = text.partition(":")
    try:
        clip = {k: float(v) for k, v in (("start", start), ("end", end)) if v.strip()}
    except ValueError:
        clip = {}
    if not sep or not clip:
        raise argparse.ArgumentTypeError(f"{text!r}: expected START:END in seconds, e.g. 12.5:42 or :30")
    return clip


def parse_metrics(text: str) -> list[str]:
    """`ssim,psnr`: the quality metrics to measure on every video output."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    allowed = ", ".join(m.value for m in Metric)
    if not names or any(n not in Metric.__members__ for n in names):
        raise argparse.ArgumentTypeError(f"{text!r}: expected metrics from {allowed}, comma-separated")
    return list(dict.fromkeys(names))


def with_metrics(
    outputs: list[dict[str, Any]] | None, metrics: list[str]
) -> list[OutputSpec | Mapping[str, Any]] | None:
    """`--metrics` on every video output (a preset's type counts); audio and image outputs take none.
    No outputs (a template's are used): None, as given."""
    if outputs is None:
        return None
    marked: list[OutputSpec | Mapping[str, Any]] = []
    for spec in outputs:
        kind = spec.get("type")
        if kind is None and spec.get("preset") in presets.CATALOG:
            kind = presets.expand(spec["preset"]).get("type")
        made = OutputType(kind) if isinstance(kind, str) and kind in OutputType.__members__ else None
        video = made is not None and not (made.is_audio or made.is_visual)
        marked.append({**spec, "metrics": metrics} if metrics and video else spec)
    return marked


def summary(out: Output) -> str:
    """One finished output, for the terminal: how it was made, and its measured quality."""
    if out.status is not OutputStatus.completed:
        return f"{out.error_code}: {out.error_message}"
    words = [out.status.value] + (["(remuxed)"] if is_remux(out.strategy) else [])
    for q in out.quality:
        figures = [
            f"ssim {q.ssim.mean:.4f}" if q.ssim else "",
            f"psnr {q.psnr.mean:.2f} dB" if q.psnr else "",
        ]
        words.append(f"[{q.height}p " + " ".join(f for f in figures if f) + "]")
    return " ".join(words)


def check_temporal(task_queue: str) -> str:
    """Connect as the workers do and say what is there: the server, and the pollers of `task_queue`."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest

    async def ask() -> str:
        client = await child.connect()
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        pollers = {}
        for kind, name in ((TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "workflow"),
                           (TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, "activity")):  # fmt: skip
            desc = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
                )
            )
            pollers[name] = len(desc.pollers)
        target = client.service_client.config.target_host
        return (
            f"Temporal at {target}, namespace {client.namespace}: reachable (server {info.server_version or '?'})\n"
            f"task queue {task_queue!r}: {pollers['workflow']} workflow pollers, {pollers['activity']} activity pollers"
            + ("" if pollers["workflow"] else " (no worker is polling it)")
        )

    return asyncio.run(ask())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recast", description="Submit and follow Recast transcoding jobs.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_submit = sub.add_parser("submit", help="submit a file or URL")
    p_submit.add_argument("source", help="a local file to upload, or an http(s) URL")
    p_submit.add_argument("-o", "--output", action="append", type=parse_output,
                          metavar="OUTPUT", help=f"{OUTPUT_FORMS}; e.g. mp4:h264:720p, mp3, preset:hls-ladder "
                          "(repeat for more; required without --template)")  # fmt: skip
    p_submit.add_argument("--template", help="take the fields not given from this template (recast template)")
    p_submit.add_argument("--wait", action="store_true", help="follow the job with a progress bar")
    p_submit.add_argument(
        "--download", type=Path, metavar="DIR", help="save finished outputs here (implies --wait)"
    )
    p_submit.add_argument("--priority", choices=["economy", "standard", "premium"])
    p_submit.add_argument(
        "--delayed-start", action="store_true", help="wait for `recast confirm` after probing"
    )
    p_submit.add_argument("--idempotency-key", help="submit at most once per key")
    p_submit.add_argument("--metadata", action="append", type=parse_metadata, default=[], metavar="KEY=VALUE")
    p_submit.add_argument("--webhook-url")
    p_submit.add_argument(
        "--clip", type=parse_clip, metavar="START:END", help="make the outputs from these seconds"
    )
    p_submit.add_argument("--metrics", type=parse_metrics, default=[], metavar="ssim,psnr",
                          help="measure every video output's quality against the source")  # fmt: skip
    p_submit.add_argument("--loudness", type=finishing.parse_loudness, metavar="LUFS[:PEAK]",
                          help=f"normalize every output's audio (EBU R128): {finishing.LOUDNESS_FORMS}")  # fmt: skip
    p_submit.add_argument("--captions", action="append", type=finishing.parse_captions, default=[],
                          metavar="SOURCE:LANG[:LABEL]", help=f"a caption file (SRT or WebVTT), carried by "
                          f"every video output: {finishing.CAPTIONS_FORMS} (repeat for more)")  # fmt: skip
    p_submit.add_argument("--burn-in", metavar="LANG", help="render these captions into every video output")
    p_submit.add_argument(
        "--watermark", metavar="IMAGE", help="a local picture (uploaded first) or URL over every video output"
    )
    p_submit.add_argument("--watermark-position", choices=[p.value for p in Position])
    for name, help_text in (
        ("status", "show a job"),
        ("cancel", "cancel a job"),
        ("confirm", "confirm a job"),
        ("webhooks", "list a job's webhook deliveries"),
    ):
        sub.add_parser(name, help=help_text).add_argument("job_id")
    p_list = sub.add_parser("list", help="list your jobs, newest first")
    p_list.add_argument("--status")
    p_list.add_argument("--limit", type=int, default=20)
    p_redeliver = sub.add_parser("redeliver", help="send a webhook delivery again")
    p_redeliver.add_argument("job_id")
    p_redeliver.add_argument("delivery_id")
    p_download = sub.add_parser("download", help="save a finished job's outputs")
    p_download.add_argument("job_id")
    p_download.add_argument("dest", type=Path, metavar="DIR")
    p_check = sub.add_parser(
        "check-temporal", help="connect to Temporal as the workers do; list the task queue's pollers"
    )
    p_check.add_argument("--task-queue", default=os.environ.get("RECAST_TASK_QUEUE") or child.TASK_QUEUE)
    # Imported here: they reuse this module's argument parsers (a top-level import would be circular).
    from recast.client import cli_batch, cli_template

    cli_batch.add_parser(sub)
    cli_template.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "submit" and not (args.output or args.template):
        parser.error("submit: give at least one -o/--output, or --template")
    if args.command == "submit" and not args.output and (args.loudness or args.burn_in):
        parser.error("submit: --loudness and --burn-in apply to the -o/--output outputs; give them")
    if args.command == "check-temporal":
        code = 0
        try:
            print(check_temporal(args.task_queue))
        except ConnectionError as exc:
            print(f"recast: {exc}", file=sys.stderr)
            code = 2
        # With a Temporal client made, the interpreter's finalization can abort in the SDK's threads
        # (sdk-python #300, exit 134): end here, with this command's own exit code.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    try:
        with Recast() as client:
            return run(client, args, Display())
    except RecastError as exc:
        print(f"recast: {exc}", file=sys.stderr)
        return 2


def run(client: Recast, args: argparse.Namespace, display: Display) -> int:
    """One command, through the SDK."""
    if args.command in ("batch", "template"):
        from recast.client import cli_batch, cli_template

        if args.command == "batch":
            return cli_batch.run(client, args, display)
        return cli_template.run(client, args)
    if args.command == "status":
        print(client.get(args.job_id).model_dump_json(indent=2))
        return 0
    if args.command in ("cancel", "confirm"):
        job = client.cancel(args.job_id) if args.command == "cancel" else client.confirm(args.job_id)
        print(f"{job.id} {job.status.value}")
        return 0
    if args.command == "list":
        shown = 0
        for item in itertools.islice(client.list(args.status, page_size=min(args.limit, 100)), args.limit):
            print(f"{item.id}  {item.status.value:<22} {item.progress:3d}%  {item.created_at.isoformat()}")
            shown += 1
        print(f"{shown} shown", file=sys.stderr)
        return 0
    if args.command == "webhooks":
        for d in client.webhooks(args.job_id):
            print(
                f"{d.id}  {d.event:<20} {d.state:<9} attempts {d.attempts}  last {d.response_status or '-'}"
                f"  {d.last_attempt_at.isoformat()}"
            )
        return 0
    if args.command == "redeliver":
        print(client.redeliver(args.job_id, args.delivery_id).id)
        return 0
    if args.command == "download":
        return _save(client, client.get(args.job_id), args.dest, display)
    fields = {
        "priority": args.priority,
        "delayed_start": args.delayed_start or None,
        "idempotency_key": args.idempotency_key,
        "metadata": dict(args.metadata) or None,
        "webhook_url": args.webhook_url,
        "clip": args.clip,
        "template": args.template,
        "captions": finishing.caption_fields(args.captions, lambda p: client.upload(p).input_url) or None,
    }
    # None with a template and no -o: the template's outputs.
    specs = finishing.apply(args.output, args.loudness, args.burn_in) if args.output else None
    if args.watermark:
        if specs is None:
            print("recast: --watermark needs the outputs it goes on (-o)", file=sys.stderr)
            return 2
        image = args.watermark if "://" in args.watermark else client.upload(args.watermark).input_url
        try:
            specs = watermarked(specs, image, args.watermark_position)
        except argparse.ArgumentTypeError as exc:
            print(f"recast: {exc}", file=sys.stderr)
            return 2
    outputs: list[OutputSpec | Mapping[str, Any]] | None = with_metrics(specs, args.metrics)
    source = args.source
    if not is_url(source):
        with display.uploading(local_file(source)) as on_upload:
            job = client.submit(source, outputs, on_upload=on_upload, **fields)
    else:
        job = client.submit(source, outputs, **fields)
    print(job.id, file=sys.stderr)
    if not (args.wait or args.download):
        print(job.model_dump_json(indent=2))
        return 0
    with display.encoding() as on_event:
        job = client.wait(job.id, on_event)
    if job.status is JobStatus.awaiting_confirmation:
        print(
            f"awaiting confirmation: estimated {job.total_estimated_cost} {job.currency}; "
            f"run `recast confirm {job.id}`",
            file=sys.stderr,
        )
        return 0
    for out in job.outputs:
        print(f"  {out.id} {out.type.value} {out.width}x{out.height}  {summary(out)}", file=sys.stderr)
    if args.download:
        _save(client, job, args.download, display)
    return 0 if job.status is JobStatus.completed else 1


def _save(client: Recast, job: Job, dest: Path, display: Display) -> int:
    with display.downloading() as on_progress:
        paths = client.download(job, dest, on_progress)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

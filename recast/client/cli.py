"""`recast`: submit a job, follow it with a progress bar, download the results.

    recast submit clip.mp4 -o mp4:h264:720p -o webm:vp9:480p:economy --wait --download out/
    recast submit https://example.com/clip.mp4 -o mp4:h264 --priority premium --delayed-start
    recast submit talk.mov -o preset:hls-ladder -o mp3 -o '{"type": "thumbnails", "thumbnails": {"count": 5}}'
    recast status job_…          recast confirm job_…          recast cancel job_…
    recast list --status failed
    recast check-temporal        (is Temporal reachable as configured, and are workers polling?)

API address and key come from RECAST_API_URL (default http://127.0.0.1:8000) and RECAST_API_KEY
(default: the key `make run` generated in $RECAST_DATA_DIR/api_key). `check-temporal` talks to Temporal
directly, configured as the workers are: Temporal's own TEMPORAL_* variables or TOML profile, and the
task queue of RECAST_TASK_QUEUE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from recast.client import child
from recast.core.requests import INPUT_SCHEMES

TERMINAL = {"completed", "failed", "partial", "canceled"}


class CliError(Exception):
    pass


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


def _client() -> httpx.Client:
    key = os.environ.get("RECAST_API_KEY", "")
    if not key:
        key_file = Path(os.environ.get("RECAST_DATA_DIR", "var")) / "api_key"
        key = key_file.read_text().strip() if key_file.exists() else ""
    base = os.environ.get("RECAST_API_URL", "http://127.0.0.1:8000")
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _check(resp: httpx.Response) -> dict[str, Any]:
    try:
        body: dict[str, Any] = resp.json()
    except ValueError:
        body = {}
    if resp.status_code >= 400:
        err = body.get("error", {})
        raise CliError(f"{err.get('code', resp.status_code)}: {err.get('message', resp.text)}")
    return body


def submit(
    http: httpx.Client, source: str, outputs: list[dict[str, Any]], fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Submit by URL (JSON) or by upload (multipart); `fields` are the other JobCreate fields."""
    fields = {k: v for k, v in (fields or {}).items() if v not in (None, False, {})}
    # Every input_url scheme is sent as a URL (http(s), s3, gs, upload); anything else is a local file.
    if source.lower().startswith(tuple(f"{scheme}://" for scheme in INPUT_SCHEMES)):
        return _check(http.post("/v1/jobs", json={"input_url": source, "outputs": outputs, **fields}))
    path = Path(source)
    if not path.is_file():
        raise CliError(f"{source}: no such file")
    form = {k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else v
            for k, v in fields.items()}  # fmt: skip
    with path.open("rb") as fh:
        return _check(
            http.post(
                "/v1/jobs", files={"media": (path.name, fh)}, data={"outputs": json.dumps(outputs), **form}
            )
        )


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


def render_bar(job: dict[str, Any], width: int = 30) -> str:
    filled = round(width * job["progress"] / 100)
    return f"[{'#' * filled}{'.' * (width - filled)}] {job['progress']:3d}% {job['stage']}"


def follow(http: httpx.Client, job_id: str, interval: float = 0.5) -> dict[str, Any]:
    """Poll until the job is finished, drawing a progress bar (plain lines when not on a terminal)."""
    tty = sys.stderr.isatty()
    last = ""
    while True:
        job = _check(http.get(f"/v1/jobs/{job_id}"))
        line = render_bar(job)
        if tty:
            sys.stderr.write("\r" + line)
        elif line != last:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        last = line
        if job["status"] in TERMINAL or job["status"] == "awaiting_confirmation":
            if tty:
                sys.stderr.write("\n")
            return job
        time.sleep(interval)


def download(http: httpx.Client, job: dict[str, Any], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    saved = []
    for out in job["outputs"]:
        if out["status"] != "completed":
            continue
        link = _check(http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download"))
        if link.get("files"):
            # A folder output (HLS/DASH package, thumbnails): every file, in a folder of its own.
            folder = dest / f"{out['id']}-{out['type']}"
            for f in link["files"]:
                target = folder / f["name"]
                if not target.resolve().is_relative_to(folder.resolve()):
                    raise CliError(f"refusing to write {f['name']!r} outside {folder}")
                _fetch(f["url"], target, out["id"])
            saved.append(folder / (out.get("filename") or ""))
            continue
        target = dest / (out.get("filename") or f"{out['id']}.{out['type']}")
        _fetch(link["url"], target, out["id"])
        saved.append(target)
    return saved


def _fetch(url: str, target: Path, output_id: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with httpx.stream("GET", url, timeout=60) as resp, target.open("wb") as fh:
        if resp.status_code != 200:
            raise CliError(f"download of {output_id} failed with HTTP {resp.status_code}")
        for chunk in resp.iter_bytes():
            fh.write(chunk)


def check_temporal(task_queue: str) -> str:
    """Connect as the workers do and say what is there: the server, and the pollers of `task_queue`."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest

    async def ask() -> str:
        try:
            client = await child.connect()
        except ConnectionError as exc:
            raise CliError(str(exc)) from None
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
    p_submit.add_argument("-o", "--output", action="append", type=parse_output, required=True,
                          metavar="OUTPUT", help=f"{OUTPUT_FORMS}; e.g. mp4:h264:720p, mp3, preset:hls-ladder "
                          "(repeat for more)")  # fmt: skip
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
    for name, help_text in (
        ("status", "show a job"),
        ("cancel", "cancel a job"),
        ("confirm", "confirm a job"),
    ):
        sub.add_parser(name, help=help_text).add_argument("job_id")
    p_list = sub.add_parser("list", help="list your jobs, newest first")
    p_list.add_argument("--status")
    p_list.add_argument("--limit", type=int, default=20)
    p_check = sub.add_parser(
        "check-temporal", help="connect to Temporal as the workers do; list the task queue's pollers"
    )
    p_check.add_argument("--task-queue", default=os.environ.get("RECAST_TASK_QUEUE") or child.TASK_QUEUE)
    args = parser.parse_args(argv)
    if args.command == "check-temporal":
        code = 0
        try:
            print(check_temporal(args.task_queue))
        except CliError as exc:
            print(f"recast: {exc}", file=sys.stderr)
            code = 2
        # With a Temporal client made, the interpreter's finalization can abort in the SDK's threads
        # (sdk-python #300, exit 134): end here, with this command's own exit code.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    try:
        with _client() as http:
            if args.command == "status":
                print(json.dumps(_check(http.get(f"/v1/jobs/{args.job_id}")), indent=2))
                return 0
            if args.command in ("cancel", "confirm"):
                job = _check(http.post(f"/v1/jobs/{args.job_id}/{args.command}"))
                print(f"{job['id']} {job['status']}")
                return 0
            if args.command == "list":
                query = {"limit": args.limit, **({"status": args.status} if args.status else {})}
                page = _check(http.get("/v1/jobs", params=query))
                for item in page["data"]:
                    print(f"{item['id']}  {item['status']:<22} {item['progress']:3d}%  {item['created_at']}")
                print(f"{len(page['data'])} of {page['total_count']}", file=sys.stderr)
                return 0
            fields = {
                "priority": args.priority,
                "delayed_start": args.delayed_start,
                "idempotency_key": args.idempotency_key,
                "metadata": dict(args.metadata),
                "webhook_url": args.webhook_url,
                "clip": args.clip,
            }
            job = submit(http, args.source, args.output, fields)
            print(job["id"], file=sys.stderr)
            if not (args.wait or args.download):
                print(json.dumps(job, indent=2))
                return 0
            job = follow(http, job["id"])
            if job["status"] == "awaiting_confirmation":
                print(
                    f"awaiting confirmation: estimated {job['total_estimated_cost']} {job['currency']}; "
                    f"run `recast confirm {job['id']}`",
                    file=sys.stderr,
                )
                return 0
            for out in job["outputs"]:
                note = (
                    out["status"]
                    if out["status"] == "completed"
                    else f"{out['error_code']}: {out['error_message']}"
                )
                print(
                    f"  {out['id']} {out['type']} {out.get('width')}x{out.get('height')}  {note}",
                    file=sys.stderr,
                )
            if args.download:
                for path in download(http, job, args.download):
                    print(path)
            return 0 if job["status"] == "completed" else 1
    except CliError as exc:
        print(f"recast: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"recast: cannot reach the API: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

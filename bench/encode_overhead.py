"""Recast vs bare ffmpeg on the same encode, side by side in one run.

    .venv/bin/python bench/encode_overhead.py [--runs 5] [--quick]
    .venv/bin/python bench/encode_overhead.py --observability [--runs 9]

Encodes a 10 s 1080p clip to 720p H.264 (quality `standard`) through Recast — multipart upload,
workflow, probe, encode, check, upload, sign; timed from just before the POST to the first poll
that sees `completed` — and with the identical ffmpeg command run bare. Rounds alternate which goes
first. Prints each round and the median of the per-round ratios Recast/ffmpeg (target ≤ 1.10).

`--observability`: the same job on two stacks side by side, one with metrics, traces and logs off
(no OTLP endpoint, RECAST_WORKER_METRICS_PORT=0, RECAST_API_METRICS=false, RECAST_LOG_LEVEL=WARNING),
one with them on (traces by OTLP/HTTP to a loopback sink that discards them, the worker's metrics
endpoint on a free port and the API's /metrics, both scraped after every job as Prometheus would,
JSON logs at INFO); rounds alternate which goes first. Prints the median per-round ratio on/off, its
spread, and the orchestration CPU per job of each (target: within noise, under 1 %).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.clips import RESULTS, bench_stack, make_clip  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.devstack.stack import free_port  # noqa: E402
from recast.media import probe, renditions  # noqa: E402

KEY = "bench-key"
OUTPUT = {"type": "mp4", "video": {"codec": "h264", "resolution": "720p", "quality": "standard"}}
# A realistic client poll interval. Polling much faster costs the Temporal server CPU that the encode
# needs on a small machine, so the end time is the job's own `completed_at`, not the poll that saw it.
POLL_S = 0.5


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_recast(http: httpx.Client, clip: Path) -> tuple[float, float, dict[str, Any]]:
    """(seconds to `completed_at`, seconds until a poll saw it, the Job)."""
    start = time.perf_counter()
    start_wall = datetime.now(UTC)
    with clip.open("rb") as fh:
        resp = http.post("/v1/jobs", files={"media": (clip.name, fh)}, data={"outputs": json.dumps([OUTPUT])})
    resp.raise_for_status()
    job_id = resp.json()["id"]
    while True:
        job: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "partial"):
            observed = time.perf_counter() - start
            if job["status"] != "completed":
                raise SystemExit(f"benchmark job {job_id} ended {job['status']}: {job.get('error_message')}")
            done = datetime.fromisoformat(job["completed_at"].replace("Z", "+00:00"))
            return (done - start_wall).total_seconds(), observed, job
        time.sleep(POLL_S)


def run_ffmpeg(clip: Path, workdir: Path) -> float:
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    plan = renditions.encode_plan(OutputSpec.model_validate(OUTPUT), meta, clip, workdir / "bare.mp4")
    start = time.perf_counter()
    subprocess.run(plan.args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


@contextlib.contextmanager
def otlp_sink() -> Iterator[dict[str, int]]:
    """A loopback OTLP/HTTP endpoint that accepts every export and discards it; counts posts and bytes."""
    seen = {"posts": 0, "bytes": 0, "port": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["bytes"] += len(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            seen["posts"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen["port"] = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def scrape(url: str) -> bool:
    """GET a Prometheus endpoint as a scraper would; whether it answered with metrics."""
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def compare_observability(clip: Path, runs: int, quick: bool) -> int:
    off_env = {
        "RECAST_WORKER_METRICS_PORT": "0",
        "RECAST_API_METRICS": "false",
        "RECAST_LOG_LEVEL": "WARNING",
    }
    metrics_port = free_port()
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(otlp_sink())
        on_env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink['port']}",
            "RECAST_WORKER_METRICS_PORT": str(metrics_port),
            "RECAST_API_METRICS": "true",
            "RECAST_LOG_FORMAT": "json",
            "RECAST_LOG_LEVEL": "INFO",
        }
        stacks = {
            "off": stack.enter_context(bench_stack(KEY, off_env)),
            "on": stack.enter_context(bench_stack(KEY, on_env)),
        }
        scrapes = {
            "worker": f"http://127.0.0.1:{metrics_port}/metrics",
            "api": str(stacks["on"][1].base_url.join("/metrics")),
        }
        for _, http, _ in stacks.values():
            run_recast(http, clip)  # warm-up: first workflow, imports, caches
        rows = []
        print(f"{'round':>5} {'off s':>7} {'on s':>7} {'on/off':>7} {'off cpu s':>10} {'on cpu s':>9}")
        for i in range(runs):
            row: dict[str, Any] = {}
            for name in ("off", "on") if i % 2 == 0 else ("on", "off"):
                procs, http, _ = stacks[name]
                before = {n: cpu_seconds(p.pid) for n, p in procs.procs.items()}
                seconds, _, _ = run_recast(http, clip)
                if name == "on":  # as Prometheus would, between jobs; its cost is the endpoints'
                    row["scraped"] = {k: scrape(u) for k, u in scrapes.items()}
                row[name] = seconds
                row[f"{name}_cpu_s"] = sum(cpu_seconds(p.pid) - before[n] for n, p in procs.procs.items())
            row["ratio"] = row["on"] / row["off"]
            rows.append(row)
            print(f"{i + 1:>5} {row['off']:>7.2f} {row['on']:>7.2f} {row['ratio']:>7.3f} "
                  f"{row['off_cpu_s']:>10.2f} {row['on_cpu_s']:>9.2f}")  # fmt: skip
    ratios = sorted(r["ratio"] for r in rows)
    summary = {
        "clip": clip.name,
        "output": OUTPUT,
        "runs": rows,
        "median_off_s": statistics.median(r["off"] for r in rows),
        "median_on_s": statistics.median(r["on"] for r in rows),
        "median_ratio": statistics.median(ratios),
        "ratio_min": ratios[0],
        "ratio_max": ratios[-1],
        "median_off_cpu_s": statistics.median(r["off_cpu_s"] for r in rows),
        "median_on_cpu_s": statistics.median(r["on_cpu_s"] for r in rows),
        "otlp_posts": sink["posts"],
        "otlp_bytes": sink["bytes"],
        "metrics_answered": {k: all(r["scraped"][k] for r in rows) for k in scrapes},
    }
    print(f"median: off {summary['median_off_s']:.2f} s, on {summary['median_on_s']:.2f} s, "
          f"ratio on/off {summary['median_ratio']:.3f} (rounds {ratios[0]:.3f}–{ratios[-1]:.3f}); "
          f"orchestration CPU per job off {summary['median_off_cpu_s']:.2f} s, on {summary['median_on_cpu_s']:.2f} s; "
          f"OTLP sink got {sink['posts']} posts ({sink['bytes']} bytes); metrics endpoints answered: "
          f"{summary['metrics_answered']}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "encode_overhead-observability" + ("-quick" if quick else "") + ".json"
    (RESULTS / name).write_text(json.dumps(summary, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 s 640x360 clip, 2 runs: a smoke test")
    parser.add_argument(
        "--observability", action="store_true", help="metrics, traces and logs on vs off, side by side"
    )
    args = parser.parse_args()
    seconds, size, runs = (2, "640x360", 2) if args.quick else (10, "1920x1080", args.runs)
    clip = make_clip(RESULTS / f"clip-{seconds}s-{size}.mp4", seconds, size)
    if args.observability:
        return compare_observability(clip, runs, args.quick)

    with bench_stack(KEY) as (stack, http, tmp):
        run_recast(http, clip)  # warm-up: first workflow, imports, caches
        rows = []
        print(
            f"{'round':>5} {'recast s':>9} {'ffmpeg s':>9} {'ratio':>6} {'polled s':>9}   recast split (fetch/probe/encode ms)"
        )
        for i in range(runs):
            # CPU the orchestration (server, worker without its ffmpeg children, API) spends per job:
            # it competes with ffmpeg for the same cores.
            before = {name: cpu_seconds(proc.pid) for name, proc in stack.procs.items()}
            if i % 2 == 0:
                recast_s, polled_s, job = run_recast(http, clip)
                cpu = {name: cpu_seconds(proc.pid) - before[name] for name, proc in stack.procs.items()}
                ffmpeg_s = run_ffmpeg(clip, tmp)
            else:
                ffmpeg_s = run_ffmpeg(clip, tmp)
                before = {name: cpu_seconds(proc.pid) for name, proc in stack.procs.items()}
                recast_s, polled_s, job = run_recast(http, clip)
                cpu = {name: cpu_seconds(proc.pid) - before[name] for name, proc in stack.procs.items()}
            ex = job["execution"]
            rows.append({"recast_s": recast_s, "polled_s": polled_s, "ffmpeg_s": ffmpeg_s,
                         "ratio": recast_s / ffmpeg_s, "execution": ex, "cpu_s": cpu})  # fmt: skip
            print(f"{i + 1:>5} {recast_s:>9.2f} {ffmpeg_s:>9.2f} {recast_s / ffmpeg_s:>6.2f} {polled_s:>9.2f}   "
                  f"{ex['fetch_duration_ms']}/{ex['probe_duration_ms']}/{ex['encode_duration_ms']}")  # fmt: skip
    summary = {
        "clip": f"{seconds}s {size}",
        "output": OUTPUT,
        "runs": rows,
        "median_recast_s": statistics.median(r["recast_s"] for r in rows),
        "median_ffmpeg_s": statistics.median(r["ffmpeg_s"] for r in rows),
        "median_ratio": statistics.median(r["ratio"] for r in rows),
        "median_orchestration_cpu_s": statistics.median(sum(r["cpu_s"].values()) for r in rows),
    }
    print(f"median: recast {summary['median_recast_s']:.2f} s, ffmpeg {summary['median_ffmpeg_s']:.2f} s, "
          f"ratio {summary['median_ratio']:.2f} (target ≤ 1.10: "
          f"{'met' if summary['median_ratio'] <= 1.10 else 'NOT met'}); "
          f"orchestration CPU per job {summary['median_orchestration_cpu_s']:.2f} s "
          f"(Temporal server, worker without ffmpeg, API)")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("encode_overhead-quick.json" if args.quick else "encode_overhead.json")).write_text(
        json.dumps(summary, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make run`: Recast in the foreground until it is stopped — a Temporal dev server (SQLite under the
data dir, Web UI), one worker (RECAST_WORKERS: that many) and the API; or, when a Temporal is configured (`TEMPORAL_ADDRESS`, a
`TEMPORAL_PROFILE`, or the deprecated `RECAST_TEMPORAL_ADDRESS`), the worker and API on that Temporal and
no dev server.

Nothing outlives it: Ctrl-C, SIGTERM and SIGHUP (the terminal closed) stop the children in order, and
if the launcher itself is killed the kernel stops them (their parent-death signal, see stack.py). Every
port it needs is checked before anything starts, so a port still held by something else is named, and
"Recast is running" is printed only once the API answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from recast.devstack.stack import Stack, port_taken, wait_for_port
from recast.infra import logs, tracing
from recast.infra.config import Settings, load_or_exit, read_or_create_secret
from recast.infra.temporal import Target, TemporalConnectionError, connect, target

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopping(Exception):
    """A stop signal arrived (raised from the handler, so a start-up in progress ends too)."""


def say(text: str, err: bool = False) -> None:
    # After SIGHUP the terminal may be gone: stopping cleanly matters more than saying so.
    with contextlib.suppress(OSError):
        print(text, file=sys.stderr if err else sys.stdout, flush=True)


def taken_ports(settings: Settings, dev_server: bool) -> list[str]:
    """Each port this run needs that something else holds, named with its setting."""
    wanted = [(settings.host, settings.port, "API", "RECAST_PORT")]
    if settings.worker_metrics_port:
        wanted += [
            (settings.worker_metrics_host, port, "worker metrics", "RECAST_WORKER_METRICS_PORT")
            for port in worker_metrics_ports(settings)
        ]
    if dev_server:
        wanted += [
            ("127.0.0.1", settings.dev_temporal_port, "Temporal dev server", "RECAST_DEV_TEMPORAL_PORT"),
            ("127.0.0.1", settings.dev_ui_port, "Temporal Web UI", "RECAST_DEV_UI_PORT"),
        ]
    return [
        f"port {port} on {host} ({what}) is already in use; stop what holds it (an earlier `make run`? "
        f"`ss -ltnp 'sport = :{port}'` shows it) or set {var}"
        for host, port, what, var in wanted
        if port_taken(host, port)
    ]


def check_temporal(settings: Settings) -> str | None:
    """None when the configured Temporal answers; else the reason, naming address and TLS settings."""

    async def attempt() -> None:
        await connect(settings)

    try:
        asyncio.run(attempt())
    except TemporalConnectionError as exc:
        return str(exc)
    return None


def banner(settings: Settings, base: str, temporal_line: str, data_dir: Path, api_key: str) -> str:
    webhook_key = data_dir / "webhook.key"  # where load() keeps the generated secret
    return "\n".join(
        [
            "",
            "Recast is running.",
            f"  API          {base}   (OpenAPI docs: {base}/docs)",
            f"  Temporal     {temporal_line}",
            f"  metrics      {metrics_where(settings, base)}",
            f"  traces       OTLP to {tracing.endpoint()}"
            if tracing.wanted()
            else "  traces       off (set OTEL_EXPORTER_OTLP_ENDPOINT)",
            f"  workers      {settings.workers} × {settings.chunk_slots} chunk slot(s)   (RECAST_WORKERS, "
            "RECAST_CHUNK_SLOTS: long encodes are split over them)",
            f"  data dir     {data_dir}",
            f"  webhooks     signed with the secret in {webhook_key}"
            if webhook_key.is_file() and webhook_key.read_text().strip() == settings.webhook_secret
            else "  webhooks     signed with RECAST_WEBHOOK_SECRET",
            f"  API key      {api_key}   (org: default)"
            if api_key
            else "  API keys     from RECAST_API_KEYS / RECAST_API_KEYS_FILE",
            "",
            "Try:",
            f'  curl -H "Authorization: Bearer {api_key or "<key>"}" '
            f'-F media=@clip.mp4 -F \'outputs=[{{"type":"mp4","video":{{"codec":"h264","resolution":"720p"}}}}]\' '
            f"{base}/v1/jobs",
            "",
            "Ctrl-C stops everything.",
        ]
    )


def worker_metrics_ports(settings: Settings) -> list[int]:
    """Each worker's metrics port: RECAST_WORKER_METRICS_PORT for the first, the next ones after it."""
    return [settings.worker_metrics_port + i for i in range(settings.workers)]


def start_workers(stack: Stack, settings: Settings) -> None:
    """RECAST_WORKERS worker processes: one, or several to spread split-and-stitch chunks over."""
    if settings.workers == 1:
        stack.start_worker()
        return
    for i, port in enumerate(worker_metrics_ports(settings)):
        metrics_port = str(port) if settings.worker_metrics_port else "0"
        stack.start_worker(f"worker-{i + 1}", RECAST_WORKER_METRICS_PORT=metrics_port)


def main() -> int:
    # Every variable is checked here, before anything starts: a bad one is named, not found in a child's log.
    settings = load_or_exit()
    # The worker and the API configure their own logging from the same variables; this is the launcher's.
    logs.configure_from("devstack", settings)
    try:
        where: Target = target(settings)
    except TemporalConnectionError as exc:
        say(f"recast: {exc}", err=True)
        return 2
    problems = taken_ports(settings, dev_server=not where.configured)
    if problems:
        say("recast: cannot start:\n  " + "\n  ".join(problems), err=True)
        return 2
    if where.configured:
        say(f"recast: using the Temporal at {where.describe()}: no dev server started")
        reason = check_temporal(settings)
        if reason:
            say(f"recast: {reason}", err=True)
            return 2
    data_dir = settings.data_dir.resolve()
    host, port = settings.host, settings.port
    env: dict[str, str] = {"RECAST_DATA_DIR": str(data_dir)}
    api_key = ""
    if not settings.api_key_hashes and settings.api_keys_file is None:
        # One key for org `default`, kept under the data dir so it survives restarts.
        api_key = read_or_create_secret(data_dir / "api_key", prefix="rk_")
        env["RECAST_API_KEYS"] = f"{api_key}=default"
    stack = Stack(data_dir=data_dir, env=env, quiet=False)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise Stopping(signal.Signals(signum).name)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        if where.configured:
            temporal_line = f"{where.address}   (namespace {where.namespace}; from {where.source})"
        else:
            address = stack.start_temporal(
                settings.dev_temporal_port, settings.dev_ui_port, data_dir / "temporal.db"
            )
            temporal_line = f"{address}   (dev server; Web UI: http://127.0.0.1:{settings.dev_ui_port})"
        start_workers(stack, settings)
        stack.start_api(host, port)
        wait_for_port(host, port)
        say(banner(settings, f"http://{host}:{port}", temporal_line, data_dir, api_key))
        while True:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    say(f"recast: {name} exited with {proc.returncode}; stopping", err=True)
                    return 1
            time.sleep(0.5)
    except Stopping as stop:
        say(f"\nrecast: {stop}: stopping…")
        return 0
    except (RuntimeError, TimeoutError) as exc:  # a child that died or never listened while starting
        say(f"recast: {exc}; stopping", err=True)
        return 1
    finally:
        # The orderly stop (API, worker, server) is not interrupted by a second signal.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()


def metrics_where(settings: Settings, base: str) -> str:
    """Where `make run`'s Prometheus metrics are (docs/operations.md, Metrics and dashboards)."""
    where = [f"{base}/metrics (API)"] if settings.api_metrics else []
    if settings.worker_metrics_port:
        ports = worker_metrics_ports(settings)
        what = "worker" if len(ports) == 1 else f"worker 1; the others on ports {ports[1]}–{ports[-1]}"
        where.append(f"http://{settings.worker_metrics_host}:{ports[0]}/metrics ({what})")
    return ", ".join(where) or "off"


if __name__ == "__main__":
    code = main()
    # Skip interpreter finalization: with a Temporal client made (the connection check) the SDK's core
    # threads can crash it at exit (sdk-python #300), turning a clean stop into exit code 134.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

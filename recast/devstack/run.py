"""`make run`: Recast on its embedded default — Temporal dev server (SQLite under the data dir, Web UI),
one worker and the API — in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import time

from recast.devstack.stack import Stack, wait_for_port
from recast.infra import logs, tracing
from recast.infra.config import load_or_exit, read_or_create_secret

TEMPORAL_PORT = 7233
UI_PORT = 8233


def main() -> int:
    # Every variable is checked here, before anything starts: a bad one is named, not found in a child's log.
    settings = load_or_exit()
    # The worker and the API configure their own logging from the same variables; this is the launcher's.
    logs.configure_from("devstack", settings)
    data_dir = settings.data_dir.resolve()
    host, port = settings.host, settings.port
    env: dict[str, str] = {"RECAST_DATA_DIR": str(data_dir)}
    api_key = ""
    if not settings.api_key_hashes and settings.api_keys_file is None:
        # One key for org `default`, kept under the data dir so it survives restarts.
        api_key = read_or_create_secret(data_dir / "api_key", prefix="rk_")
        env["RECAST_API_KEYS"] = f"{api_key}=default"
    stack = Stack(data_dir=data_dir, env=env, quiet=False)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        address = settings.temporal_address
        ui = ""
        if not address:
            address = stack.start_temporal(TEMPORAL_PORT, UI_PORT, data_dir / "temporal.db")
            ui = f"http://127.0.0.1:{UI_PORT}"
        stack.start_worker()
        stack.start_api(host, port)
        wait_for_port(host, port)
        base = f"http://{host}:{port}"
        webhook_key = data_dir / "webhook.key"  # where load() keeps the generated secret
        print(
            "\n".join(
                [
                    "",
                    "Recast is running.",
                    f"  API          {base}   (OpenAPI docs: {base}/docs)",
                    f"  Temporal     {address}" + (f"   (Web UI: {ui})" if ui else " (external)"),
                    f"  data dir     {data_dir}",
                    f"  webhooks     signed with the secret in {webhook_key}"
                    if webhook_key.is_file() and webhook_key.read_text().strip() == settings.webhook_secret
                    else "  webhooks     signed with RECAST_WEBHOOK_SECRET",
                    f"  traces       OTLP to {tracing.endpoint()}"
                    if tracing.wanted()
                    else "  traces       off (set OTEL_EXPORTER_OTLP_ENDPOINT)",
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
            ),
            flush=True,
        )
        while not stopping:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"recast: {name} exited with {proc.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        print("\nrecast: stopping…", flush=True)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

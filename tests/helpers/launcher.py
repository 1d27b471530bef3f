"""`make run`'s launcher (`python -m recast.devstack.run`) as a subprocess of a test: started with free
ports, its output read on a thread (so its children never block on a full pipe), and the processes it
started found in /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from recast.devstack.stack import ROOT, free_port
from tests.helpers.processes import alive


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Temporal or Recast settings of its own (nor a profile file of
    this machine's user), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "RECAST_"))}
    return env | {"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml", "PYTHONPATH": str(ROOT), **extra}


@dataclass
class Launcher:
    proc: subprocess.Popen[str]
    api_port: int
    temporal_port: int
    ui_port: int
    lines: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)  # every descendant found, killed by `stop` if left over

    @classmethod
    def start(cls, data_dir: Path, **env: str) -> Launcher:
        ports = {
            "RECAST_PORT": free_port(),
            "RECAST_DEV_TEMPORAL_PORT": free_port(),
            "RECAST_DEV_UI_PORT": free_port(),
        }
        ports |= {k: int(v) for k, v in env.items() if k in ports}
        # No worker metrics endpoint: its default port is shared by everyone on this machine.
        env = {"RECAST_WORKER_METRICS_PORT": "0", **env}
        full = clean_env(RECAST_DATA_DIR=str(data_dir), **{**env, **{k: str(v) for k, v in ports.items()}})
        proc = subprocess.Popen(
            [sys.executable, "-m", "recast.devstack.run"],
            cwd=ROOT,
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        launcher = cls(
            proc, ports["RECAST_PORT"], ports["RECAST_DEV_TEMPORAL_PORT"], ports["RECAST_DEV_UI_PORT"]
        )
        threading.Thread(target=launcher._read, daemon=True).start()
        return launcher

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float = 90) -> str:
        """The output once `marker` is in it; fails if the launcher exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.output:
                return self.output
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the rest of its output
                break
            time.sleep(0.05)
        raise AssertionError(f"no {marker!r} from the launcher (exit {self.proc.poll()}):\n{self.output}")

    def descendants(self) -> list[int]:
        """PIDs of every process the launcher started, and theirs (ffprobe of the worker, …)."""
        found, todo = [], [self.proc.pid]
        while todo:
            kids = children_of(todo.pop())
            found += kids
            todo += kids
        self.seen.update(found)
        return found

    def stop(self) -> None:
        """Stops the launcher, then kills whatever it left (only when a test has already failed)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        for pid in self.seen:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_gone(pids: list[int], ports: list[int], timeout: float = 60) -> tuple[list[int], list[int]]:
    """Waits until every pid has ended and no port is listened on; what is left after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        held = [p for p in ports if listening(p)]
        if (not left and not held) or time.monotonic() > deadline:
            return left, held
        time.sleep(0.1)

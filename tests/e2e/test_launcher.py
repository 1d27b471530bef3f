"""`make run`'s launcher leaves nothing behind, however it ends — Ctrl-C (SIGINT), SIGTERM, SIGHUP (the
terminal closed) or SIGKILL of the launcher itself — and names a port already taken before it claims
anything is running."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.helpers.launcher import Launcher, listening, wait_gone
from tests.helpers.processes import alive


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name
)
def test_every_child_ends_with_the_launcher(sig: signal.Signals, tmp_path: Path) -> None:
    launcher = Launcher.start(tmp_path / "data")
    try:
        launcher.wait_for("Recast is running.")
        ports = [launcher.api_port, launcher.temporal_port, launcher.ui_port]
        assert all(listening(p) for p in ports), launcher.output
        started = launcher.descendants()
        assert len(started) >= 3, started  # the dev server, the worker, the API (and the worker's own)
        launcher.proc.send_signal(sig)
        launcher.proc.wait(60)
        left, held = wait_gone(started, ports)
        assert not left, f"still running after {sig.name}: {left}"
        assert not held, f"ports still listened on after {sig.name}: {held}"
        if sig != signal.SIGKILL:
            assert "stopping" in launcher.output
            assert launcher.proc.returncode == 0, launcher.output
    finally:
        launcher.stop()


@pytest.mark.parametrize(
    "which,setting,what",
    [
        ("RECAST_PORT", "RECAST_PORT", "API"),
        ("RECAST_DEV_TEMPORAL_PORT", "RECAST_DEV_TEMPORAL_PORT", "Temporal dev server"),
        ("RECAST_DEV_UI_PORT", "RECAST_DEV_UI_PORT", "Temporal Web UI"),
    ],
)
def test_a_taken_port_is_named_before_anything_starts(
    which: str, setting: str, what: str, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        launcher = Launcher.start(tmp_path / "data", **{which: str(port)})
        try:
            assert launcher.proc.wait(60) == 2, launcher.output
            launcher.wait_for("cannot start")
        finally:
            launcher.stop()
    out = launcher.output
    assert f"port {port} on 127.0.0.1 ({what}) is already in use" in out
    assert setting in out
    assert "Recast is running" not in out
    others = [p for p in (launcher.api_port, launcher.temporal_port, launcher.ui_port) if p != port]
    assert not any(listening(p) for p in others), "something was started"
    assert not (tmp_path / "data" / "temporal.db").exists()
    assert not alive(launcher.proc.pid)

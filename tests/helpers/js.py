"""The tests' JavaScript (tests/js: tus-js-client and hls.js from npm, installed by scripts/bootstrap.sh
with `npm ci`): running tus-js-client under node, paused midway and resumed on the test's word."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recast.devstack.stack import ROOT

JS_DIR = ROOT / "tests" / "js"
NODE_MODULES = JS_DIR / "node_modules"


@dataclass
class TusRun:
    """A running `node tests/js/tus_upload.mjs`: read its steps, tell it to resume."""

    proc: subprocess.Popen[str]

    def step(self) -> dict[str, Any]:
        """The script's next step as it printed it (`paused`, `done`, `terminated` or `error`)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"tus_upload.mjs ended without a step (exit {self.proc.wait(10)}): {err}")
        step: dict[str, Any] = json.loads(line)
        assert step["step"] != "error", step
        return step

    def resume(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("resume\n")
        self.proc.stdin.flush()


@contextlib.contextmanager
def tus_upload(
    endpoint: str, key: str, path: Path, chunk_size: int, terminate: bool = False
) -> Iterator[TusRun]:
    """Upload `path` with tus-js-client in `chunk_size` PATCHes; it pauses past half and waits for
    `resume()`."""
    node = shutil.which("node")
    assert node and (NODE_MODULES / "tus-js-client").is_dir(), "run scripts/bootstrap.sh (node, npm ci)"
    proc = subprocess.Popen(
        [node, str(JS_DIR / "tus_upload.mjs"), endpoint, key, str(path), str(chunk_size)],
        cwd=JS_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TERMINATE": "1" if terminate else "0"},
    )
    try:
        yield TusRun(proc)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

"""Fixtures: small clips and pictures made with lavfi, a real Recast stack (Temporal dev server, worker,
API), and a Temporal dev server of its own for tests/workflow.
The helpers they use are in tests/helpers/."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from recast.core.contract import SEARCH_ATTRIBUTES
from recast.devstack.stack import Stack, free_port, temporal_binary
from tests.helpers import OTHER_KEY, SHARED_QUEUE, Api, colour_strip, make_clip, make_with_ffmpeg, new_stack


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    notmedia = d / "notes.mp4"
    notmedia.write_bytes(b"this is a text file pretending to be a video\n" * 100)
    return {
        "small": make_clip(d / "small.mp4"),
        "silent": make_clip(d / "silent.mp4", audio=False),
        "long720": make_clip(d / "long720.mp4", seconds=6, size="1280x720"),
        "notmedia": notmedia,
    }


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Still pictures (png, jpg, webp), and a GIF and a video of three colours (tests/helpers/pictures.py),
    for the image tests with and without a stack (made once per module, as before the split)."""
    d = tmp_path_factory.mktemp("pictures")
    still = "testsrc2=size=640x360:rate=1"
    made = {}
    for ext in ("png", "jpg", "webp"):
        made[ext] = d / f"picture.{ext}"
        make_with_ffmpeg("-f", "lavfi", "-i", still, "-frames:v", "1", str(made[ext]))
    made["gif"] = d / "colours.gif"  # 3 frames: red, green, blue
    make_with_ffmpeg("-f", "lavfi", "-i", colour_strip("1"), "-frames:v", "3", str(made["gif"]))
    made["video"] = d / "colours.mp4"  # 3 s: red, green, blue, 10 fps
    make_with_ffmpeg(
        "-f", "lavfi", "-i", colour_strip("10"), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(made["video"])
    )  # fmt: skip
    return made


@pytest.fixture(scope="session")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One Temporal dev server for the session; stacks of API + worker attach to it."""
    d = tmp_path_factory.mktemp("temporal")
    stack = Stack(data_dir=d, env={}, quiet=True)
    stack.start_temporal(free_port(), None, d / "temporal.db")
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def workflow_server() -> Iterator[str]:
    """A Temporal dev server of its own for tests/workflow (the installed `temporal` CLI, nothing is
    downloaded), with Recast's search attributes; yields its address. Each test connects its own client
    and worker: the tests run their own event loops."""
    env = asyncio.run(
        WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=temporal_binary(),
            dev_server_log_level="error",
            # As recast/devstack/stack.py registers them: every attribute the contract declares.
            dev_server_extra_args=[
                arg
                for name, kind in SEARCH_ATTRIBUTES.items()
                for arg in ("--search-attribute", f"{name}={kind}")
            ],
        )
    )
    yield env.client.service_client.config.target_host
    asyncio.run(env.shutdown())


@pytest.fixture(scope="session")
def stack(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shared API + worker most tests use."""
    s = new_stack(temporal, tmp_path_factory.mktemp("recast"), SHARED_QUEUE)
    s.start_worker()
    port = free_port()
    s.start_api("127.0.0.1", port)
    s.env["API_URL"] = f"http://127.0.0.1:{port}"
    yield s
    s.stop()
    if os.environ.get("RECAST_TEST_LOGS"):
        for log in sorted(s.data_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack.env["API_URL"])


@pytest.fixture(scope="session")
def other_api(stack: Stack) -> Api:
    return Api(stack.env["API_URL"], key=OTHER_KEY)


def pytest_unconfigure(config: pytest.Config) -> None:
    # The Temporal SDK's core threads can crash interpreter finalization (sdk-python #300) and turn
    # a green run into exit 134. The summary is printed by now; leave with pytest's own verdict.
    session = getattr(config, "_recast_session", None)
    if session is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(session.exitstatus))


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._recast_session = session  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def stack_storage(stack: Stack) -> Path:
    """The shared stack's local storage folder (fs backend), to check what was and was not kept."""
    return stack.data_dir / "storage"


@pytest.fixture
def http_server(clips: dict[str, Path]) -> Iterator[str]:
    """A plain HTTP server on loopback serving the clips folder."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(clips["small"].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()

"""Transcodely's Job object document, replayed against Recast (api/compat/transcodely.py): each curl
example as the HTTP request it sends (its key and organization included), each JavaScript example run as
written under node (tests/js/transcodely_examples.mjs), the answers checked field by field against the
document's examples, and the outputs probed.

The examples' `gs://my-bucket/…` input is sent as written where only the answer to Create is checked;
where a job must run, a loopback server holds a tiny clip instead.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import API_KEY, ORG, ffprobe, second_api, stream
from tests.helpers.js import JS_DIR

KEY, ORG_ID = "ak_live_abc123", "org_f6g7h8i9j0"  # the document's
SERVICE = "/transcodely.v1.JobService"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CREATE: dict[str, Any] = {  # the Create example's body
    "input_url": "gs://my-bucket/uploads/video.mp4",
    "output_origin_id": "ori_x9y8z7w6v5",
    "outputs": [{"type": "mp4", "video": [{"codec": "h264", "resolution": "1080p", "quality": "standard"}]}],
    "priority": "standard",
}
# The document's answers: the keys each example shows.
CREATE_KEYS = {
    "id", "input_url", "input_origin", "output_origin", "status", "progress", "priority", "input_metadata",
    "outputs", "metadata", "delayed_start", "currency", "execution", "created_at", "updated_at",
}  # fmt: skip
GET_KEYS = CREATE_KEYS | {
    "total_estimated_cost", "total_actual_cost", "error_code", "error_message", "webhook_url", "probed_at",
    "started_at", "completed_at", "confirmed_at",
}  # fmt: skip
ORIGIN_KEYS = {"id", "name", "provider", "path", "bucket"}
METADATA_KEYS = {"duration_ms", "width", "height", "codec", "bitrate_kbps", "framerate", "file_size_bytes"}
OUTPUT_KEYS = {"id", "type", "status", "video", "output_url", "file_size_bytes"}
EXECUTION_KEYS = {"probe_duration_ms", "encode_duration_ms", "total_duration_ms"}


@pytest.fixture(scope="module")
def base_url(stack: Stack, temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API in front of the shared worker whose keys include the document's (`ak_live_abc123`, of
    organization `org_f6g7h8i9j0`)."""
    with second_api(
        stack,
        temporal,
        tmp_path_factory.mktemp("transcodely"),
        RECAST_API_KEYS=f"{KEY}={ORG_ID},{API_KEY}={ORG}",
    ) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """The headers of every curl example."""
    headers = {
        "Authorization": f"Bearer {KEY}",
        "X-Organization-ID": ORG_ID,
        "Content-Type": "application/json",
    }
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as c:
        yield c


def rpc(client: httpx.Client, method: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post(f"{SERVICE}/{method}", content=json.dumps(body))
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


def wait(client: httpx.Client, job_id: str, until: set[str], timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = rpc(client, "Get", {"id": job_id})["job"]
        if job["status"] in until or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def node(base_url: str, example: str, job_id: str = "") -> dict[str, Any]:
    """Run one of the document's JavaScript examples as written (tests/js/transcodely_examples.mjs)."""
    exe = shutil.which("node")
    assert exe, "run scripts/bootstrap.sh --tests (node)"
    proc = subprocess.run(
        [exe, str(JS_DIR / "transcodely_examples.mjs"), base_url, KEY, ORG_ID, example, job_id],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def submit(client: httpx.Client, input_url: str, **fields: Any) -> dict[str, Any]:
    body = {**CREATE, "input_url": input_url, **fields}
    job: dict[str, Any] = rpc(client, "Create", body)["job"]
    return job


def check_created(job: dict[str, Any], input_url: str) -> None:
    """Field by field against the document's Create answer."""
    assert set(job) == CREATE_KEYS, set(job) ^ CREATE_KEYS
    assert job["id"].startswith("job_") and job["input_url"] == input_url
    assert job["input_origin"] is None
    assert set(job["output_origin"]) == ORIGIN_KEYS and job["output_origin"]["id"] == "ori_x9y8z7w6v5"
    assert (job["status"], job["progress"], job["priority"]) == ("pending", 0, "standard")
    assert job["input_metadata"] is None and job["outputs"] == [] and job["metadata"] == {}
    assert job["delayed_start"] is False and job["execution"] is None
    assert isinstance(job["currency"], str) and len(job["currency"]) == 3
    assert TIME.match(job["created_at"]) and job["updated_at"] == job["created_at"]


def test_create_as_documented(client: httpx.Client, base_url: str) -> None:
    """The Create example, by curl and by the JavaScript example: the answer is the document's."""
    job = rpc(client, "Create", CREATE)["job"]
    check_created(job, CREATE["input_url"])
    by_js = node(base_url, "create")
    assert by_js["ok"], by_js
    check_created(by_js["job"], CREATE["input_url"])
    # No bucket `my-bucket` is reachable from here: both jobs fail fetching their input.
    for job_id in (job["id"], by_js["job"]["id"]):
        failed = wait(client, job_id, {"failed"})
        assert failed["status"] == "failed" and failed["error_code"] and failed["error_message"], failed
        assert set(failed) >= GET_KEYS


def test_job_lifecycle_get_and_watch(
    client: httpx.Client, base_url: str, http_server: str, tmp_path: Path
) -> None:
    """A job that runs: Watch (curl and JavaScript) streams it to its end, and Get answers the
    document's completed job field by field; its output is an H.264 MP4 one can download."""
    job = submit(
        client, f"{http_server}/small.mp4", metadata={"source": "upload-service", "user_id": "usr_a1"}
    )
    lines = []
    with client.stream("POST", f"{SERVICE}/Watch", content=json.dumps({"id": job["id"]})) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
        for line in resp.iter_lines():
            if line.strip():
                lines.append(json.loads(line))
    events = [m["result"] for m in lines]
    assert all(set(m) == {"result"} for m in lines)
    assert all(set(e) == {"job", "event", "server_time"} and TIME.match(e["server_time"]) for e in events)
    assert events[0]["event"] == "snapshot" and events[-1]["event"] == "completed"
    assert {e["event"] for e in events} <= {"snapshot", "progress", "status_change", "completed", "heartbeat"}
    progress = [e["job"]["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100
    assert events[-1]["job"]["status"] == "completed"

    done = rpc(client, "Get", {"id": job["id"]})["job"]
    assert set(done) == GET_KEYS, set(done) ^ GET_KEYS
    assert (done["status"], done["progress"], done["error_code"], done["error_message"]) == (
        "completed",
        100,
        "",
        "",
    )
    assert done["metadata"] == {"source": "upload-service", "user_id": "usr_a1"}
    assert set(done["input_metadata"]) >= METADATA_KEYS
    assert (done["input_metadata"]["width"], done["input_metadata"]["codec"]) == (640, "h264")
    assert done["input_metadata"]["framerate"] == 30 and done["input_metadata"]["duration_ms"] > 1500
    [out] = done["outputs"]
    assert set(out) >= OUTPUT_KEYS and out["id"].startswith("out_")
    assert (out["type"], out["status"]) == ("mp4", "completed")
    assert out["video"] == {"codec": "h264", "resolution": "1080p", "quality": "standard"}
    assert out["file_size_bytes"] > 0
    assert isinstance(done["total_estimated_cost"], float) and isinstance(done["total_actual_cost"], float)
    assert set(done["execution"]) >= EXECUTION_KEYS
    for name in ("created_at", "updated_at", "probed_at", "started_at", "completed_at"):
        assert TIME.match(done[name]), name
    assert done["confirmed_at"] is None and done["delayed_start"] is False
    resp = httpx.get(out["output_url"], timeout=30)
    assert resp.status_code == 200
    (tmp_path / "out.mp4").write_bytes(resp.content)
    video = stream(ffprobe(tmp_path / "out.mp4"), "video")
    assert video is not None and video["codec_name"] == "h264" and video["height"] == 360  # never upscaled

    by_js = node(base_url, "get", job["id"])
    assert by_js["ok"] and by_js["job"]["status"] == "completed" and by_js["job"]["id"] == job["id"]
    watched = node(base_url, "watch", job["id"])
    assert watched["ok"] and watched["logged"] == ["snapshot: 100%", "completed: 100%"], watched


def test_list_as_documented(client: httpx.Client, base_url: str, http_server: str) -> None:
    """The List example (status filter, pagination), and paging on with `next_cursor`."""
    answer = rpc(client, "List", {"status": "processing", "pagination": {"limit": 20}})
    assert set(answer) == {"jobs", "pagination"} and set(answer["pagination"]) == {
        "next_cursor",
        "total_count",
    }
    assert all(j["status"] == "processing" for j in answer["jobs"])
    assert (
        answer["pagination"]["total_count"] == len(answer["jobs"])
        and answer["pagination"]["next_cursor"] == ""
    )
    by_js = node(base_url, "list")
    assert by_js["ok"] and set(by_js["pagination"]) == {"next_cursor", "total_count"}, by_js

    ids = [submit(client, f"{http_server}/small.mp4")["id"] for _ in range(2)]
    for job_id in ids:
        wait(client, job_id, {"completed"})
    first = rpc(client, "List", {"status": "completed", "pagination": {"limit": 1}})
    assert len(first["jobs"]) == 1 and first["pagination"]["next_cursor"]
    assert first["pagination"]["total_count"] >= 2
    second = rpc(
        client,
        "List",
        {"status": "completed", "pagination": {"limit": 1, "cursor": first["pagination"]["next_cursor"]}},
    )
    assert second["jobs"][0]["id"] != first["jobs"][0]["id"]
    assert [first["jobs"][0]["id"], second["jobs"][0]["id"]] == ids[::-1]  # newest first
    for job in first["jobs"]:
        assert job["status"] == "completed" and {"id", "input_url", "progress", "priority"} <= set(job)


def test_delayed_start_confirm_and_cancel(client: httpx.Client, base_url: str, http_server: str) -> None:
    """delayed_start pauses in awaiting_confirmation with a cost; Confirm (curl) sends it on, and
    Cancel (JavaScript) stops another; a finished job cannot be canceled again."""
    url = f"{http_server}/small.mp4"
    job = submit(client, url, delayed_start=True)
    paused = wait(client, job["id"], {"awaiting_confirmation", "failed"})
    assert paused["status"] == "awaiting_confirmation", paused
    assert paused["total_estimated_cost"] > 0 and paused["delayed_start"] is True
    confirmed = rpc(client, "Confirm", {"id": job["id"]})["job"]
    assert confirmed["status"] == "processing" and confirmed["delayed_start"] is True
    assert TIME.match(confirmed["confirmed_at"]) and {"id", "input_url", "progress", "priority"} <= set(
        confirmed
    )
    assert wait(client, job["id"], {"completed", "failed"})["status"] == "completed"

    other = submit(client, url, delayed_start=True)
    assert wait(client, other["id"], {"awaiting_confirmation"})["status"] == "awaiting_confirmation"
    canceled = node(base_url, "cancel", other["id"])
    assert canceled["ok"], canceled
    assert canceled["job"]["status"] == "canceled" and TIME.match(canceled["job"]["completed_at"])
    again = client.post(f"{SERVICE}/Cancel", content=json.dumps({"id": other["id"]}))
    assert again.status_code == 400 and again.json()["code"] == "failed_precondition"
    late = node(base_url, "confirm", other["id"])
    assert (late["ok"], late["status"], late["code"]) == (False, 400, "failed_precondition")


def test_errors_are_connect_errors(client: httpx.Client, base_url: str) -> None:
    """Bad input is `invalid_argument` with field violations; unknown jobs `not_found`; keys and
    organizations `unauthenticated` and `permission_denied`, in Transcodely's error shape."""

    def check(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
        assert resp.status_code == status, resp.text
        body: dict[str, Any] = resp.json()
        assert body["code"] == code and isinstance(body["message"], str) and body["message"]
        [detail] = body["details"]
        assert detail["type"] == "transcodely.v1.ErrorDetails"
        return body

    bad_codec = {**CREATE, "outputs": [{"type": "mp4", "video": [{"codec": "mpeg2"}]}]}
    body = check(client.post(f"{SERVICE}/Create", content=json.dumps(bad_codec)), 400, "invalid_argument")
    violations = body["details"][0]["value"]["field_violations"]
    assert violations and violations[0]["field"].startswith("outputs[0].video[0].codec"), violations
    no_origin = {k: v for k, v in CREATE.items() if k != "output_origin_id"}
    check(client.post(f"{SERVICE}/Create", content=json.dumps(no_origin)), 400, "invalid_argument")
    ssrf = {**CREATE, "input_url": "http://169.254.169.254/latest/meta-data"}
    check(client.post(f"{SERVICE}/Create", content=json.dumps(ssrf)), 400, "invalid_argument")
    check(client.post(f"{SERVICE}/Get", content=json.dumps({"id": "job_a1b2c3d4e5f6"})), 404, "not_found")
    check(client.post(f"{SERVICE}/Get", content="{}"), 400, "invalid_argument")
    wrong_key = client.post(
        f"{SERVICE}/Get", content='{"id": "job_x"}', headers={"Authorization": "Bearer nope"}
    )
    check(wrong_key, 401, "unauthenticated")
    wrong_org = client.post(
        f"{SERVICE}/Get", content='{"id": "job_x"}', headers={"X-Organization-ID": "org_other"}
    )
    check(wrong_org, 403, "permission_denied")
    # Another organization's job is not found (its existence is not revealed).
    mine = rpc(client, "Create", CREATE)["job"]["id"]
    theirs = httpx.post(
        f"{base_url}{SERVICE}/Get",
        content=json.dumps({"id": mine}),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    check(theirs, 404, "not_found")
    by_js = node(base_url, "get")  # as written: job_a1b2c3d4e5f6 is no job here
    assert (by_js["ok"], by_js["status"], by_js["code"]) == (False, 404, "not_found")


# The document's Python examples, verbatim; each runs with `client`, Transcodely's own Python SDK
# (PyPI `transcodely`) pointed at Recast. Only the job ID is replaced by one this server has.
PY_CREATE = """
job = client.jobs.create(
input_url="gs://my-bucket/uploads/video.mp4",
output_origin_id="ori_x9y8z7w6v5",
outputs=[{
"type": "mp4",
"video": [{"codec": "h264", "resolution": "1080p", "quality": "standard"}],
}],
priority="standard",
)
"""
PY_GET = 'job = client.jobs.get(id="job_a1b2c3d4e5f6")'
PY_LIST = 'response = client.jobs.list(status="processing", pagination={"limit": 20})'
PY_CANCEL = 'job = client.jobs.cancel(id="job_a1b2c3d4e5f6")'
PY_CONFIRM = 'job = client.jobs.confirm(id="job_a1b2c3d4e5f6")'
PY_WATCH = """
for event in client.jobs.watch(id="job_a1b2c3d4e5f6"):
    print(f"{event.event}: {event.job.progress}%")
    if event.event == "completed":
        break
"""


def test_python_sdk_runs_the_documents_examples(
    base_url: str, client: httpx.Client, http_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Transcodely's official Python SDK, unchanged, against Recast: Create, Get, List, Confirm, Cancel
    and Watch (which the SDK speaks as Connect's enveloped stream) as the document writes them."""
    from transcodely import Transcodely
    from transcodely.errors import InvalidRequestError
    from transcodely.v1 import job_pb2

    with Transcodely(api_key=KEY, organization_id=ORG_ID, base_url=base_url, max_retries=0) as sdk:

        def run(example: str, job_id: str = "") -> dict[str, Any]:
            scope: dict[str, Any] = {"client": sdk}
            exec(example.replace("job_a1b2c3d4e5f6", job_id or "job_a1b2c3d4e5f6"), scope)
            return scope

        created = run(PY_CREATE)["job"]
        assert created.id.startswith("job_") and created.input_url == CREATE["input_url"]
        assert (
            created.status == job_pb2.JOB_STATUS_PENDING and created.priority == job_pb2.JOB_PRIORITY_STANDARD
        )
        assert created.output_origin.id == "ori_x9y8z7w6v5"
        assert run(PY_GET, created.id)["job"].id == created.id
        listed = run(PY_LIST)["response"]
        assert all(j.status == job_pb2.JOB_STATUS_PROCESSING for j in listed.items)

        # A job that runs, watched to its end.
        job = submit(client, f"{http_server}/small.mp4", delayed_start=True)
        assert wait(client, job["id"], {"awaiting_confirmation"})["status"] == "awaiting_confirmation"
        confirmed = run(PY_CONFIRM, job["id"])["job"]
        assert confirmed.status == job_pb2.JOB_STATUS_PROCESSING and confirmed.confirmed_at.seconds > 0
        capsys.readouterr()
        run(PY_WATCH, job["id"])
        printed = capsys.readouterr().out.splitlines()
        # The SDK's events are enum numbers, so the example prints them as such and never reaches its
        # `break`: the stream ends on its own after the completed event.
        assert printed[0].startswith(f"{job_pb2.WATCH_EVENT_TYPE_SNAPSHOT}: ")
        assert printed[-1] == f"{job_pb2.WATCH_EVENT_TYPE_COMPLETED}: 100%", printed
        done = run(PY_GET, job["id"])["job"]
        assert done.status == job_pb2.JOB_STATUS_COMPLETED and done.progress == 100
        assert done.outputs[0].output_url and done.outputs[0].output_size_bytes > 0
        assert len(done.outputs[0].spec.video) == 1

        paused = submit(client, f"{http_server}/small.mp4", delayed_start=True)
        assert wait(client, paused["id"], {"awaiting_confirmation"})["status"] == "awaiting_confirmation"
        assert run(PY_CANCEL, paused["id"])["job"].status == job_pb2.JOB_STATUS_CANCELED
        with pytest.raises(InvalidRequestError):  # canceled: not awaiting confirmation
            run(PY_CONFIRM, paused["id"])


def test_limits_are_shared(stack: Stack, temporal: Stack, tmp_path: Path) -> None:
    """The organization's submission limit holds for Create too: `resource_exhausted`, 429."""
    keys = f"{KEY}={ORG_ID}"
    with second_api(
        stack, temporal, tmp_path, RECAST_API_KEYS=keys, RECAST_MAX_SUBMISSIONS_PER_MINUTE="1"
    ) as url:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
            answers = [c.post(f"{SERVICE}/Create", content=json.dumps(CREATE)) for _ in range(2)]
    assert answers[0].status_code == 200, answers[0].text
    assert answers[1].status_code == 429 and answers[1].json()["code"] == "resource_exhausted"

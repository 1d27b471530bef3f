"""Retention and lifecycle end to end, on local (fs) storage and on S3 (moto on loopback): a worker and an
API of their own with RECAST_OUTPUT_TTL of seconds.

What a user would check: the cleanup schedule exists in Temporal (described through the client) and the
namespace keeps finished jobs for RECAST_JOB_RETENTION; after the TTL an old job says its outputs
expired and its downloads answer 410 `expired`; one run of the schedule (triggered as an operator
would) deletes the old job's folder, its templated outputs and an idle upload from storage — and keeps a
running job's files, the upload a running job reads, a fresh job's files and every object that is not
Recast's. Plus: a worker whose Temporal refuses the set-up warns and carries on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleActionStartWorkflow
from temporalio.contrib.pydantic import pydantic_data_converter

from recast.core.job import Output
from recast.core.lifecycle import CleanupReport, cleanup_schedule_id
from recast.devstack.stack import Stack
from recast.infra import lifecycle
from recast.infra.config import Settings
from recast.infra.downloads import grant_for
from recast.infra.signing import sign
from recast.infra.storage import Storage
from tests.helpers import ORG, SECRET, Api, moto_s3, own_api

TTL = 5  # seconds: long enough to set everything up, then waited out
RETENTION = 3 * 86400
BUCKET, PREFIX = "recast-retention", "media"
S3_CREDS = {"s3_region": "us-east-1", "s3_access_key_id": "ak", "s3_secret_access_key": "sk"}
H264 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
# Not Recast's: inside an organization's folder but outside jobs/, uploads/ and outputs/, and at the top.
UNRELATED = (f"{ORG}/notes/keep.txt", "unrelated.txt")


@pytest.fixture(scope="module", params=["fs", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The storage settings of one backend, as RECAST_* variables."""
    if request.param == "fs":
        yield {"RECAST_STORAGE_URL": f"fs://{tmp_path_factory.mktemp('retention-fs')}"}
        return
    with moto_s3(tmp_path_factory.mktemp("moto"), (BUCKET,)) as endpoint:
        yield {
            "RECAST_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
            "RECAST_S3_ENDPOINT": endpoint,
            "RECAST_S3_REGION": S3_CREDS["s3_region"],
            "RECAST_S3_ACCESS_KEY_ID": S3_CREDS["s3_access_key_id"],
            "RECAST_S3_SECRET_ACCESS_KEY": S3_CREDS["s3_secret_access_key"],
        }


def storage_of(env: dict[str, str]) -> Storage:
    url = env["RECAST_STORAGE_URL"]
    if url.startswith("s3://"):
        return Storage(url, Settings(s3_endpoint=env["RECAST_S3_ENDPOINT"], **S3_CREDS))  # type: ignore[arg-type]
    return Storage(url)


async def keys(storage: Storage) -> set[str]:
    return {e.path async for e in await storage.op.list("", recursive=True) if not e.path.endswith("/")}


async def write(storage: Storage, key: str) -> None:
    await storage.op.write(key, b"not Recast's")


def put_upload(api: Api, clip: Path) -> str:
    """An upload sent whole (a pre-signed PUT on S3, the gateway's PUT on fs); returns its ID."""
    ticket = api.http.post(
        "/v1/uploads", json={"filename": clip.name, "size": clip.stat().st_size, "content_type": "video/mp4"}
    ).json()
    put = httpx.request(ticket["method"], ticket["url"], content=clip.read_bytes(), headers=ticket["headers"])
    assert put.status_code in (200, 201, 204), put.text
    return str(ticket["upload_id"])


def error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code, resp.text


async def schedule_and_retention(address: str, queue: str) -> tuple[Any, timedelta]:
    """The cleanup schedule's description, once the worker has made it, and the namespace's retention
    (set just before)."""
    client = await Client.connect(address)
    handle = client.get_schedule_handle(cleanup_schedule_id(queue))
    for _ in range(300):
        try:
            desc = await handle.describe()
            break
        except Exception:  # not created yet: the worker is starting
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("the worker made no cleanup schedule")
    return desc, await lifecycle.namespace_retention(client, "default")


async def run_schedule_once(address: str, queue: str) -> CleanupReport:
    """Trigger the schedule now (what `temporal schedule trigger` does) and wait for the run it starts."""
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    handle = client.get_schedule_handle(cleanup_schedule_id(queue))
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    for _ in range(300):
        actions = (await handle.describe()).info.recent_actions
        if len(actions) > before:
            break
        await asyncio.sleep(0.1)
    started = actions[-1].action
    assert isinstance(started, ScheduleActionExecutionStartWorkflow)
    report: CleanupReport = await client.get_workflow_handle(
        started.workflow_id, result_type=CleanupReport
    ).result()
    return report


def test_expired_files_are_deleted_and_nothing_else(
    temporal: Stack, backend: dict[str, str], clips: dict[str, Path], tmp_path: Path
) -> None:
    queue = f"recast-retention-{'s3' if backend['RECAST_STORAGE_URL'].startswith('s3') else 'fs'}"
    address = temporal.env["RECAST_TEMPORAL_ADDRESS"]
    storage = storage_of(backend)
    env = {
        **backend,
        "RECAST_OUTPUT_TTL": f"{TTL}s",
        "RECAST_JOB_RETENTION": "3d",
        "RECAST_UPLOAD_TTL": str(TTL),
        "RECAST_CONFIRMATION_TIMEOUT": "600",  # the running jobs wait for confirmation throughout
    }
    with own_api(temporal, tmp_path / "stack", queue, **env) as api:
        desc, retention = asyncio.run(schedule_and_retention(address, queue))
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "RecastCleanup" and action.task_queue == queue
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(hours=1)]
        assert retention == timedelta(seconds=RETENTION)

        for key in UNRELATED:
            asyncio.run(write(storage, key))
        # Old: a finished job, a finished job with templated output paths, an upload nobody used.
        old = api.wait(api.submit(clips["small"], [H264])["id"])
        link = api.http.get(f"/v1/jobs/{old['id']}/outputs/{old['outputs'][0]['id']}/download").json()
        # A link handed out now lasts no longer than the files it points to.
        assert datetime.fromisoformat(link["expires_at"]) <= datetime.fromisoformat(old["outputs_expire_at"])
        # A gateway token as the workflow signs them (RECAST_URL_TTL, an hour), to fetch after the cleanup.
        grant = grant_for(ORG, old["id"], Output.model_validate(old["outputs"][0]), 3600)
        old_token_url = f"{api.base_url}/v1/files/{sign(grant, SECRET)}"
        assert httpx.get(old_token_url).status_code == 200
        templated_resp = api.upload(clips["small"], [H264], output_path_template="kept/{job_id}.{format}")
        templated = api.wait(templated_resp.json()["id"])
        idle_upload = put_upload(api, clips["small"])
        # Running throughout: a job awaiting confirmation (its input in its job folder), and one that
        # reads an upload.
        running_resp = api.upload(
            clips["small"], [H264], delayed_start="true", output_path_template="running/{job_id}.{format}"
        )
        running = api.wait(running_resp.json()["id"], until={"awaiting_confirmation"})
        # A running job's finished output at its templated path (as the first of several outputs would
        # be): old by the time the cleanup runs, and kept.
        running_output = f"{ORG}/outputs/{running['outputs'][0]['path']}"
        asyncio.run(write(storage, running_output))
        used_upload = put_upload(api, clips["small"])
        reading = api.http.post(
            "/v1/jobs",
            json={"input_url": f"upload://{used_upload}", "outputs": [H264], "delayed_start": True},
        )
        assert reading.status_code == 202, reading.text
        assert old["status"] == templated["status"] == "completed"
        assert old["outputs_expire_at"] is not None and not old["outputs_expired"]

        time.sleep(TTL + 1)  # everything above is now past its TTL
        fresh = api.wait(api.submit(clips["small"], [H264])["id"])
        before = asyncio.run(keys(storage))

        # The API says so before any file is gone.
        expired = api.job(old["id"])
        assert expired["outputs_expired"] is True
        completed_at = datetime.fromisoformat(expired["completed_at"])
        assert datetime.fromisoformat(expired["outputs_expire_at"]) == completed_at + timedelta(seconds=TTL)
        error(
            api.http.get(f"/v1/jobs/{old['id']}/outputs/{old['outputs'][0]['id']}/download"), 410, "expired"
        )
        listed = {j["id"]: j for j in api.http.get("/v1/jobs", params={"limit": 50}).json()["data"]}
        assert (
            listed[old["id"]]["outputs_expired"] is True and listed[fresh["id"]]["outputs_expired"] is False
        )
        assert api.job(running["id"])["outputs_expire_at"] is None  # still running: no expiry yet
        error(  # an expired upload starts no new job
            api.http.post("/v1/jobs", json={"input_url": f"upload://{idle_upload}", "outputs": [H264]}),
            410,
            "expired",
        )

        report = asyncio.run(run_schedule_once(address, queue))
        after = asyncio.run(keys(storage))

        assert (report.jobs_deleted, report.uploads_deleted, report.outputs_deleted) == (2, 1, 1), report
        # The running job's folder and output, the upload a running job reads.
        assert report.kept_in_use == 3, report
        gone = before - after
        assert gone and all(
            k.startswith(
                (
                    f"{ORG}/jobs/{old['id']}/",
                    f"{ORG}/jobs/{templated['id']}/",
                    f"{ORG}/uploads/{idle_upload}/",
                )
            )
            or k == f"{ORG}/outputs/kept/{templated['id']}.mp4"
            for k in gone
        ), gone
        assert f"{ORG}/outputs/kept/{templated['id']}.mp4" in gone
        assert any(k.startswith(f"{ORG}/jobs/{old['id']}/outputs/") for k in gone)
        assert any(k.startswith(f"{ORG}/uploads/{idle_upload}/data/") for k in gone)
        assert running_output in after
        for kept in (
            f"{ORG}/jobs/{running['id']}/",
            f"{ORG}/uploads/{used_upload}/",
            f"{ORG}/jobs/{fresh['id']}/outputs/",
        ):
            assert any(k.startswith(kept) for k in after), kept
        assert set(UNRELATED) <= after

        # Downloads: the old job's stay 410 (a token signed before the cleanup too), the fresh job's work.
        error(
            api.http.get(f"/v1/jobs/{old['id']}/outputs/{old['outputs'][0]['id']}/download"), 410, "expired"
        )
        error(httpx.get(old_token_url), 410, "expired")
        probe = api.fetch_output(fresh, 0, tmp_path / "fresh.mp4")
        assert probe["streams"][0]["codec_name"] == "h264"
        for job_id in (running["id"], reading.json()["id"]):
            assert api.http.post(f"/v1/jobs/{job_id}/cancel").status_code == 200


def test_a_refused_set_up_warns_and_does_not_stop(temporal: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """On a namespace Recast may not change (here: one that does not exist), the worker's set-up logs
    what to do by hand instead of failing."""
    settings = Settings(temporal_namespace="no-such-namespace")

    async def set_up() -> None:
        client = await Client.connect(
            temporal.env["RECAST_TEMPORAL_ADDRESS"],
            namespace="no-such-namespace",
            data_converter=pydantic_data_converter,
        )
        await lifecycle.ensure_lifecycle(client, settings)

    with caplog.at_level(logging.WARNING, logger="recast.lifecycle"):
        asyncio.run(set_up())
    messages = [r.getMessage() for r in caplog.records]
    assert any("RECAST_JOB_RETENTION" in m for m in messages), messages
    assert any("cleanup schedule" in m for m in messages), messages


def test_the_schedule_is_made_once_and_follows_the_settings(temporal: Stack) -> None:
    """Every worker start calls the set-up: the schedule is created once, left alone while the settings
    match, updated when they change — keeping an operator's pause."""
    queue = "recast-retention-schedule"
    settings = Settings(task_queue=queue, output_ttl_s=60, cleanup_interval_s=600)

    async def steps() -> tuple[list[str], Any]:
        client = await Client.connect(
            temporal.env["RECAST_TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter
        )
        done = [await lifecycle.ensure_cleanup_schedule(client, settings) for _ in range(2)]
        handle = client.get_schedule_handle(cleanup_schedule_id(queue))
        await handle.pause(note="investigating")
        changed = settings.model_copy(update={"output_ttl_s": 120, "cleanup_interval_s": 300})
        done += [await lifecycle.ensure_cleanup_schedule(client, changed) for _ in range(2)]
        desc = await handle.describe()
        await handle.delete()
        return done, desc

    done, desc = asyncio.run(steps())
    assert done == ["created", "unchanged", "updated", "unchanged"]
    assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(seconds=300)]
    assert b'"output_ttl_s":120' in desc.schedule.action.args[0].data
    assert desc.schedule.state.paused and desc.schedule.state.note == "investigating"

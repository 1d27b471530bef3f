"""Retry of a job's failed outputs: a real ffmpeg refusal, a retry with an override that works, the
finished output's file untouched (same key, bytes and modification time)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from recast.client import Recast, RecastError
from tests.helpers import ORG, Api, ffprobe, stream

MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p"}}
# Valid for the API (bitrate 32–320 kb/s, mono), refused by libopus: at most 256 kb/s per channel.
BAD_OPUS = {"type": "opus", "audio": {"channels": 1, "bitrate": 320}}


def _file(storage: Path, job_id: str, output_id: str) -> Path:
    [found] = (storage / ORG / "jobs" / job_id / "outputs").glob(f"{output_id}.*")
    return found


def test_retry_makes_only_the_failed_output_again_and_leaves_the_finished_one(
    api: Api, clips: dict[str, Path], stack_storage: Path, tmp_path: Path
) -> None:
    job = api.submit(clips["small"], [MP4, BAD_OPUS])
    done = api.wait(job["id"])
    assert done["status"] == "partial", done
    good, bad = done["outputs"]
    assert good["status"] == "completed" and bad["status"] == "failed", done
    assert done["attempts"] == []
    kept = _file(stack_storage, job["id"], good["id"])
    before = (hashlib.sha256(kept.read_bytes()).hexdigest(), kept.stat().st_mtime_ns)

    # Overrides are checked as at submit, naming the field; only failed outputs take them.
    resp = api.http.post(
        f"/v1/jobs/{job['id']}/retry", json={"outputs": {bad["id"]: {"audio": {"bitrate": 999}}}}
    )
    assert resp.status_code == 400 and f"outputs.{bad['id']}.audio.bitrate" in resp.json()["error"]["message"]
    resp = api.http.post(
        f"/v1/jobs/{job['id']}/retry", json={"outputs": {good["id"]: {"video": {"codec": "vp9"}}}}
    )
    assert resp.status_code == 400 and good["id"] in resp.json()["error"]["message"]

    resp = api.http.post(
        f"/v1/jobs/{job['id']}/retry", json={"outputs": {bad["id"]: {"audio": {"bitrate": 96}}}}
    )
    assert resp.status_code == 202, resp.text
    retried = resp.json()
    assert retried["id"] == job["id"] and retried["status"] not in ("partial", "failed")
    assert [a["attempt"] for a in retried["attempts"]] == [0, 1]
    assert retried["attempts"][1]["job_id"] == f"{job['id']}-r1"
    assert retried["attempts"][1]["outputs"] == [bad["id"]]
    again = api.http.post(f"/v1/jobs/{job['id']}/retry")
    assert again.status_code == 409, again.text  # retry-running, or not-retryable once it completed

    final = api.wait(job["id"])
    assert final["status"] == "completed", final
    assert [o["id"] for o in final["outputs"]] == [good["id"], bad["id"]]
    assert all(o["status"] == "completed" for o in final["outputs"])
    assert final["error_code"] is None
    assert [(a["attempt"], a["status"]) for a in final["attempts"]] == [(0, "partial"), (1, "completed")]
    # The finished output was not touched: same key, same bytes, same modification time.
    assert _file(stack_storage, job["id"], good["id"]) == kept
    assert (hashlib.sha256(kept.read_bytes()).hexdigest(), kept.stat().st_mtime_ns) == before
    # The retried output is stored under the job's own key, as if the first run had made it.
    made = _file(stack_storage, job["id"], bad["id"])
    assert made.suffix == ".opus"
    audio = stream(api.fetch_output(final, 1, tmp_path / "a.opus"), "audio")
    assert audio is not None and audio["codec_name"] == "opus" and audio["channels"] == 1
    assert ffprobe(made)["format"]["format_name"] == "ogg"

    assert api.http.post(f"/v1/jobs/{job['id']}/retry").json()["error"]["code"] == "not-retryable"
    listed = api.http.get("/v1/jobs", params={"limit": 100}).json()["data"]
    assert not any(j["id"].startswith(f"{job['id']}-r") for j in listed)
    mine = next(j for j in listed if j["id"] == job["id"])
    assert mine["status"] == "completed" and len(mine["attempts"]) == 2


def test_only_a_partial_or_failed_job_is_retried(api: Api, clips: dict[str, Path]) -> None:
    job = api.submit(clips["small"], [MP4])
    assert api.wait(job["id"])["status"] == "completed"
    resp = api.http.post(f"/v1/jobs/{job['id']}/retry")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not-retryable"
    assert api.http.post("/v1/jobs/job_00000000000000000000/retry").status_code == 404
    # The SDK says the same, as an exception carrying the API's code.
    with Recast(api.base_url, api.http.headers["Authorization"].removeprefix("Bearer ")) as sdk:
        with pytest.raises(RecastError) as refused:
            sdk.retry(job["id"])
    assert (refused.value.status, refused.value.code) == (409, "not-retryable")

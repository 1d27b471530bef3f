"""Templates: created, versioned, used by jobs (unlocked fields overridden, locked ones refused), kept
per organization in storage."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.helpers import ORG, Api, stream

H264_240 = {"type": "mp4", "video": {"codec": "h264", "height": 240}}
MP3 = {"type": "mp3"}


def _name() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def test_template_versions_and_a_job_made_from_one(
    api: Api, other_api: Api, clips: dict[str, Path], stack_storage: Path, tmp_path: Path
) -> None:
    name = _name()
    body = {
        "name": name,
        "outputs": [H264_240],
        "metadata": {"team": "video"},
        "priority": "economy",
        "locked": ["outputs"],
    }
    resp = api.http.post("/v1/templates", json=body)
    assert resp.status_code == 201, resp.text
    assert (resp.json()["version"], resp.json()["locked"]) == (1, ["outputs"])
    assert api.http.post("/v1/templates", json=body).json()["error"]["code"] == "template-exists"
    # A template no job could use is refused as a job would be, naming the field.
    bad = api.http.post("/v1/templates", json={"name": _name(), "outputs": [{"type": "mp4"}]})
    assert bad.status_code == 400 and "outputs" in bad.json()["error"]["message"]
    bad = api.http.post("/v1/templates", json={"name": _name(), "locked": ["input_url"]})
    assert bad.status_code == 400 and "locked" in bad.json()["error"]["message"]

    # PUT makes version 2; version 1 stays readable.
    v2 = api.http.put(
        f"/v1/templates/{name}", json={**{k: v for k, v in body.items() if k != "name"}, "outputs": [MP3]}
    )
    assert v2.status_code == 200 and v2.json()["version"] == 2
    assert api.http.get(f"/v1/templates/{name}").json()["outputs"][0]["type"] == "mp3"
    old = api.http.get(f"/v1/templates/{name}", params={"version": 1}).json()
    assert (old["version"], old["outputs"][0]["type"]) == (1, "mp4")
    assert name in [t["name"] for t in api.http.get("/v1/templates").json()["data"]]
    # Another organization sees none of it.
    assert other_api.http.get(f"/v1/templates/{name}").status_code == 404
    assert name not in [t["name"] for t in other_api.http.get("/v1/templates").json()["data"]]
    assert (stack_storage / ORG / "templates" / name).is_dir()

    # A job from the template: its outputs, its priority overridden (not locked), its metadata kept.
    with clips["small"].open("rb") as fh:
        resp = api.http.post(
            "/v1/jobs",
            files={"media": (clips["small"].name, fh)},
            data={"template": name, "priority": "premium"},
        )
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["template"] == {"name": name, "version": 2}
    assert (job["priority"], job["metadata"]) == ("premium", {"team": "video"})
    done = api.wait(job["id"])
    assert done["status"] == "completed" and done["template"] == {"name": name, "version": 2}
    assert stream(api.fetch_output(done, 0, tmp_path / "a.mp3"), "audio")["codec_name"] == "mp3"  # type: ignore[index]

    # An older version by number; a locked field given → 400 naming it.
    with clips["small"].open("rb") as fh:
        resp = api.http.post(
            "/v1/jobs",
            files={"media": (clips["small"].name, fh)},
            data={"template": name, "template_version": "1"},
        )
    assert resp.status_code == 202 and resp.json()["template"]["version"] == 1
    first = api.wait(resp.json()["id"])
    assert ffprobe_height(api, first, tmp_path) == 240
    locked = api.http.post(
        "/v1/jobs",
        json={"input_url": "https://example.com/a.mp4", "template": name, "outputs": [H264_240]},
    )
    assert locked.status_code == 400, locked.text
    assert locked.json()["error"]["message"].startswith("outputs: locked by template")

    # Retired: no new jobs, versions still readable.
    assert api.http.delete(f"/v1/templates/{name}").status_code == 204
    assert api.http.get(f"/v1/templates/{name}").status_code == 404
    assert api.http.get(f"/v1/templates/{name}", params={"version": 2}).status_code == 200
    gone = api.http.post("/v1/jobs", json={"input_url": "https://example.com/a.mp4", "template": name})
    assert gone.status_code == 400 and "template" in gone.json()["error"]["message"]
    again = api.http.post("/v1/templates", json={"name": name, "outputs": [MP3]})
    assert again.status_code == 201 and again.json()["version"] == 3


def ffprobe_height(api: Api, job: dict[str, object], tmp_path: Path) -> int:
    data = api.fetch_output(job, 0, tmp_path / "v.mp4")  # type: ignore[arg-type]
    video = stream(data, "video")
    assert video is not None
    return int(video["height"])


def test_unknown_template_fields_are_refused(api: Api) -> None:
    resp = api.http.post("/v1/templates", json={"name": _name(), "input_url": "https://example.com/a.mp4"})
    assert resp.status_code == 400 and "input_url" in resp.json()["error"]["message"]
    assert api.http.post("/v1/templates", json={"name": "no spaces"}).status_code == 400
    assert json.loads(api.http.get("/v1/templates/nope-nope").text)["error"]["code"] == "not-found"

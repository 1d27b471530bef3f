"""Organizations and keys: every route scoped to the key's organization (another's job is 404, never
403), `X-Organization-ID`, and the hashed keys file with `python -m recast.infra.keys add`.

An API of its own, on the shared Temporal and worker, started with a keys file (and the shared
stack's `RECAST_API_KEYS`), and a confirmation timeout long enough to keep a job waiting.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.core import ids
from recast.devstack.stack import Stack
from recast.infra import keys
from tests.helpers import API_KEY, ORG, OTHER_KEY, OTHER_ORG, Api, add_key, second_api

MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
# The path parameters the walk knows how to fill with the first organization's job.
JOB_PARAMS = {"job_id", "output_id", "delivery_id"}
NO_DELIVERY = "dlv_none"  # the jobs here have no webhook: the owner's redelivery of it is a 404 too


def error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    )
    body = resp.json()
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def wait_until(check: Any, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "api_keys"


@pytest.fixture(scope="module")
def file_key(keys_file: Path) -> str:
    """A key for the first organization, made with the CLI before the API starts."""
    done = add_key(keys_file, ORG, "--note", "made by test_orgs")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert re.fullmatch(r"rk_[A-Za-z0-9_-]{40,}", key), done.stdout
    return key


@pytest.fixture(scope="module")
def orgs_url(
    stack: Stack, temporal: Stack, tmp_path_factory: pytest.TempPathFactory, keys_file: Path, file_key: str
) -> Iterator[str]:
    with second_api(
        stack,
        temporal,
        tmp_path_factory.mktemp("orgs-api"),
        RECAST_API_KEYS_FILE=str(keys_file),
        RECAST_CONFIRMATION_TIMEOUT="600",
    ) as url:
        yield url


@pytest.fixture(scope="module")
def owner(orgs_url: str) -> Api:
    return Api(orgs_url, API_KEY)


@pytest.fixture(scope="module")
def intruder(orgs_url: str) -> Api:
    return Api(orgs_url, OTHER_KEY)


@pytest.fixture(scope="module")
def done_job(owner: Api, clips: dict[str, Path]) -> dict[str, Any]:
    """A completed job of the first organization, its output downloadable by its owner."""
    job = owner.wait(owner.submit(clips["small"], [MP4])["id"])
    assert job["status"] == "completed", job
    return job


@pytest.fixture(scope="module")
def held_job(owner: Api, clips: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """A running job of the first organization, waiting for a confirmation: a cancel or confirm that
    got through would change it."""
    resp = owner.upload(clips["small"], [MP4], delayed_start="true")
    assert resp.status_code == 202, resp.text
    job = owner.wait(resp.json()["id"], until={"awaiting_confirmation"})
    yield job
    owner.http.post(f"/v1/jobs/{job['id']}/cancel")


def call(api: Api, method: str, path: str) -> tuple[int, dict[str, Any] | None]:
    """Status and (for errors) JSON body; streams are not read beyond their headers."""
    body: dict[str, Any] | None = {} if method in ("post", "put", "patch") else None
    with api.http.stream(method.upper(), path, json=body) as resp:
        if resp.status_code < 400:
            return resp.status_code, None
        resp.read()
        return resp.status_code, resp.json()


def says_not_found(template: str, body: dict[str, Any]) -> bool:
    """A 404's body in the shape of the API the route belongs to (the drop-in routes keep their own)."""
    if template.startswith("/api/jobs/"):  # Convertly: {"error": "<message>"}
        return isinstance(body["error"], str) and body["error"].startswith("no job ")
    return bool(body["error"]["code"] == "not-found")  # native, Pipelyn, FFmpeg Micro


def walk(
    orgs_url: str, owner: Api, intruder: Api, job: dict[str, Any], expect_owner: dict[str, int]
) -> set[str]:
    """Every route of the served OpenAPI schema that takes a job ID, called with the other
    organization's key on `job` (404 `not-found`), then with the owner's (what `expect_owner` says)."""
    schema = httpx.get(f"{orgs_url}/openapi.json").json()
    walked = set()
    for template, operations in schema["paths"].items():
        params = set(re.findall(r"{(\w+)}", template))
        if "job_id" not in params:
            continue
        assert params <= JOB_PARAMS, f"{template}: the walk does not know how to fill {params - JOB_PARAMS}"
        path = template.format(job_id=job["id"], output_id=job["outputs"][0]["id"], delivery_id=NO_DELIVERY)
        for method in operations:
            route = f"{method.upper()} {template}"
            status, body = call(intruder, method, path)
            assert status == 404, f"{route} as another organization: {status} {body}"
            assert body is not None and says_not_found(template, body), body
            walked.add(route)
    # The owner reaches every one of them, so the 404s above are about the organization, not the URL.
    for route in sorted(walked):
        method, template = route.split(" ", 1)
        path = template.format(job_id=job["id"], output_id=job["outputs"][0]["id"], delivery_id=NO_DELIVERY)
        status, body = call(owner, method.lower(), path)
        assert status == expect_owner.get(route, 200), f"{route} as the owner: {status} {body}"
    return walked


def test_every_job_route_is_404_for_another_organization(
    orgs_url: str, owner: Api, intruder: Api, done_job: dict[str, Any], held_job: dict[str, Any]
) -> None:
    done_routes = walk(
        orgs_url,
        owner,
        intruder,
        done_job,
        {
            "POST /v1/jobs/{job_id}/cancel": 409,
            "POST /v1/jobs/{job_id}/confirm": 409,
            "POST /v1/jobs/{job_id}/retry": 409,  # completed: nothing to retry
            "POST /v1/jobs/{job_id}/webhooks/{delivery_id}/redeliver": 404,
            "DELETE /api/jobs/{job_id}": 409,  # Convertly cancels only pending jobs
        },
    )
    assert {
        "GET /v1/jobs/{job_id}",
        "GET /v1/jobs/{job_id}/outputs/{output_id}/download",
        "GET /v1/jobs/{job_id}/events",
        "POST /v1/jobs/{job_id}/cancel",
        "POST /v1/jobs/{job_id}/confirm",
        "POST /v1/jobs/{job_id}/retry",
        "GET /v1/jobs/{job_id}/webhooks",
        "POST /v1/jobs/{job_id}/webhooks/{delivery_id}/redeliver",
    } <= done_routes, done_routes
    # On a running job too; and the intruder's cancel and confirm must not have touched it.
    schema = httpx.get(f"{orgs_url}/openapi.json").json()
    for template in schema["paths"]:
        if "{job_id}" in template and "{output_id}" not in template:
            for method in schema["paths"][template]:
                path = template.format(job_id=held_job["id"], delivery_id=NO_DELIVERY)
                status, body = call(intruder, method, path)
                assert status == 404, f"{method.upper()} {template} as another organization: {status} {body}"
    still = owner.job(held_job["id"])
    assert still["status"] == "awaiting_confirmation" and still["confirmed_at"] is None, still
    assert still["canceled_at"] is None
    # The owner's own download of the completed output works, the intruder's 404 was not "not ready".
    link = owner.http.get(f"/v1/jobs/{done_job['id']}/outputs/{done_job['outputs'][0]['id']}/download")
    assert link.status_code == 200 and httpx.get(link.json()["url"]).status_code == 200


def test_the_list_shows_only_the_callers_jobs(
    owner: Api, intruder: Api, done_job: dict[str, Any], held_job: dict[str, Any]
) -> None:
    mine = {done_job["id"], held_job["id"]}

    def listed(api: Api, org: str, **params: Any) -> set[str]:
        seen: set[str] = set()
        cursor = None
        while True:
            query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
            resp = api.http.get("/v1/jobs", params=query)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert {j["organization"] for j in body["data"]} <= {org}, body
            seen |= {j["id"] for j in body["data"]}
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    # The owner's list shows both (visibility catches up in a moment), so the check below can fail.
    wait_until(lambda: mine <= listed(owner, ORG), what="the owner's list to show its jobs")
    assert not mine & listed(intruder, OTHER_ORG)
    assert held_job["id"] not in listed(intruder, OTHER_ORG, status="awaiting_confirmation")
    assert done_job["id"] not in listed(intruder, OTHER_ORG, status="completed")


def test_another_organizations_upload_is_not_an_input(
    orgs_url: str, owner: Api, intruder: Api, clips: dict[str, Path]
) -> None:
    if "/v1/uploads" not in httpx.get(f"{orgs_url}/openapi.json").json()["paths"]:
        pytest.skip("no upload flow in this API")
    data = clips["small"].read_bytes()
    ticket = owner.http.post(
        "/v1/uploads", json={"filename": "small.mp4", "size": len(data), "content_type": "video/mp4"}
    )
    assert ticket.status_code == 201, ticket.text
    t = ticket.json()
    put = httpx.request(t["method"], t["url"], headers=t["headers"], content=data, timeout=30)
    assert put.status_code < 300, put.text
    body = {"input_url": t["input_url"], "outputs": [MP4], "delayed_start": True}
    error(intruder.http.post("/v1/jobs", json=body), 404, "not-found")
    # The upload itself is fine: its own organization can use it.
    resp = owner.http.post("/v1/jobs", json=body)
    assert resp.status_code == 202, resp.text
    owner.http.post(f"/v1/jobs/{resp.json()['id']}/cancel")


# ---------------------------------------------------------------- X-Organization-ID ----------------------------


def test_x_organization_id_matching_the_key_is_accepted(owner: Api, done_job: dict[str, Any]) -> None:
    resp = owner.http.get(f"/v1/jobs/{done_job['id']}", headers={"X-Organization-ID": ORG})
    assert resp.status_code == 200 and resp.json()["id"] == done_job["id"]
    listing = owner.http.get("/v1/jobs", headers={"X-Organization-ID": ORG}, params={"limit": 1})
    assert listing.status_code == 200


def test_x_organization_id_of_another_organization_is_403(
    owner: Api, intruder: Api, done_job: dict[str, Any]
) -> None:
    # Naming the job's organization with another organization's key opens nothing: 403, not the job.
    message = error(
        intruder.http.get(f"/v1/jobs/{done_job['id']}", headers={"X-Organization-ID": ORG}),
        403,
        "organization-mismatch",
    )
    assert "X-Organization-ID" in message and repr(ORG) in message
    assert done_job["id"] not in message
    error(owner.http.get("/v1/jobs", headers={"X-Organization-ID": OTHER_ORG}), 403, "organization-mismatch")
    error(owner.http.get("/v1/jobs", headers={"X-Organization-ID": ""}), 403, "organization-mismatch")
    # A refused submission creates nothing, in either organization.
    refused = owner.http.post(
        "/v1/jobs",
        headers={"X-Organization-ID": OTHER_ORG, "Idempotency-Key": "orgs-mismatch"},
        json={"input_url": "http://127.0.0.1:1/x.mp4", "outputs": [MP4]},
    )
    error(refused, 403, "organization-mismatch")
    error(owner.http.get(f"/v1/jobs/{ids.idempotent_job_id(ORG, 'orgs-mismatch')}"), 404, "not-found")
    error(owner.http.get(f"/v1/jobs/{ids.idempotent_job_id(OTHER_ORG, 'orgs-mismatch')}"), 404, "not-found")


def test_an_unknown_key_is_401_whatever_organization_it_names(orgs_url: str) -> None:
    for headers in (
        {"Authorization": "Bearer rk_not-a-key"},
        {"Authorization": "Bearer rk_not-a-key", "X-Organization-ID": ORG},
        {"X-Organization-ID": ORG},
    ):
        error(httpx.get(f"{orgs_url}/v1/jobs", headers=headers), 401, "unauthorized")


# ---------------------------------------------------------------- keys file ------------------------------------


def test_keys_file_holds_only_hashes_and_the_printed_key_works(
    orgs_url: str, keys_file: Path, file_key: str, done_job: dict[str, Any]
) -> None:
    text = keys_file.read_text()
    assert file_key not in text
    digest = hashlib.sha256(file_key.encode()).hexdigest()
    assert re.search(rf"^sha256:{digest} {ORG}  # made by test_orgs$", text, re.M), text
    assert keys_file.stat().st_mode & 0o077 == 0, "the keys file is readable by others"
    # The printed key is the first organization's: it reads that organization's job.
    api = Api(orgs_url, file_key)
    assert api.job(done_job["id"])["organization"] == ORG
    # The hash from the file is not a key.
    for stolen in (digest, f"sha256:{digest}"):
        error(
            httpx.get(f"{orgs_url}/v1/jobs", headers={"Authorization": f"Bearer {stolen}"}),
            401,
            "unauthorized",
        )


def test_a_key_added_or_removed_while_running_takes_effect(
    orgs_url: str, keys_file: Path, intruder: Api, done_job: dict[str, Any]
) -> None:
    done = add_key(keys_file, OTHER_ORG)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    api = Api(orgs_url, key)
    # No restart: the API re-reads the file when it changes.
    wait_until(lambda: api.http.get("/v1/jobs", params={"limit": 1}).status_code == 200, 10, "the new key")
    assert api.http.get(f"/v1/jobs/{done_job['id']}").status_code == 404, "the new key is not the owner's"
    error(api.http.get("/v1/jobs", headers={"X-Organization-ID": ORG}), 403, "organization-mismatch")
    # Revoking: delete its line.
    digest = keys.hash_key(key)
    lines = keys_file.read_text().splitlines(keepends=True)
    keys_file.write_text("".join(line for line in lines if digest not in line))
    wait_until(lambda: api.http.get("/v1/jobs").status_code == 401, 10, "the removed key to stop working")
    # Keys of RECAST_API_KEYS are not affected by the file changing.
    assert intruder.http.get("/v1/jobs", params={"limit": 1}).status_code == 200

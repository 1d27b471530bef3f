"""Fuzz the API with schemathesis against its own OpenAPI schema: no 500s, every status code documented,
every response body and content type as the schema says.

The API under test is the real one (uvicorn process, Temporal dev server) with a key of its own
organization, so the fuzzed jobs never mix with other tests' listings. It runs *without a worker*:
jobs the fuzzer submits are accepted and stay `pending`, so nothing ever fetches a generated
`input_url` or delivers to a generated `webhook_url` (the fuzzer must not send traffic to whatever
addresses it invents). Every route is fuzzed, `/events` and `/v1/files/{token}` included: with
generated IDs and tokens they answer their documented 404/403 errors, which is what can be checked
there (a stream of a real job is covered by tests/e2e/test_events.py).

Bounded: a few examples per operation, and hypothesis' database off so every run is the same size.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from recast.devstack.stack import Stack, free_port
from recast.infra import config
from tests.helpers import new_stack

FUZZ_KEY, FUZZ_ORG = "fuzz-key", "fuzz"
MAX_EXAMPLES = int(os.environ.get("RECAST_FUZZ_EXAMPLES", "40"))  # ~20 s on 2 cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_url(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    s = new_stack(
        temporal,
        tmp_path_factory.mktemp("fuzz"),
        "recast-fuzz",
        RECAST_API_KEYS=f"{FUZZ_KEY}={FUZZ_ORG}",
        # The fuzzer submits many jobs quickly; the limits have tests of their own.
        RECAST_MAX_CONCURRENT_JOBS="0",
        RECAST_MAX_SUBMISSIONS_PER_MINUTE="0",
        # No worker runs here, so POST /v1/optimize always answers 202 at its limit: keep that short.
        RECAST_OPTIMIZE_WAIT="0.2",
    )
    port = free_port()
    s.start_api("127.0.0.1", port)  # and no worker: see the module's doc
    yield f"http://127.0.0.1:{port}"
    s.stop()


# The schema the app generates, loaded at collection so each operation is a test of its own
# (schemathesis' lazy `from_fixture` loader does not work with pytest 9). test_schema_is_what_is_served
# checks it is exactly what the live API serves at /openapi.json.
SPEC = create_app(config.Settings(storage_url="memory://")).openapi()
# A tus PATCH body is raw bytes under its own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
schema = schemathesis.openapi.from_dict(SPEC)


def test_schema_is_what_is_served(fuzz_url: str) -> None:
    assert httpx.get(f"{fuzz_url}/openapi.json").json() == SPEC


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case: schemathesis.Case, fuzz_url: str, tmp_path: Path) -> None:
    case.call_and_validate(
        base_url=fuzz_url,
        headers={"Authorization": f"Bearer {FUZZ_KEY}"},
        checks=CHECKS,
        timeout=15,
    )


def _json_only(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with `POST /v1/jobs` taking JSON only (schemathesis' media_type= does not pin it)."""
    spec = copy.deepcopy(spec)
    content = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"] = {
        "application/json": content["application/json"]
    }
    return spec


SUBMIT = schemathesis.openapi.from_dict(_json_only(SPEC))["/v1/jobs"]["POST"]


# sampled_from rather than booleans(): hypothesis leans to False, and to the first element here.
@given(case=SUBMIT.as_strategy(), usable_url=st.sampled_from([True, True, False]))
@settings(
    max_examples=MAX_EXAMPLES * 2,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_json_submissions_match_the_schema(case: schemathesis.Case, usable_url: bool, fuzz_url: str) -> None:
    """`POST /v1/jobs` with JSON bodies only: the test above mostly draws multipart forms, whose parts
    are free text. Most bodies are repaired to pass validation (the input URL's `.invalid` never
    resolves, and no worker would fetch it anyway), so accepted jobs are checked against the Job schema
    too, as answered and as read back."""
    body: Any = case.body
    if usable_url and isinstance(body, dict):
        # Repair what the schema cannot say, to get past validation: a URL, webm holding VP9 only.
        body["input_url"] = "http://media.invalid/clip.mp4"
        for name in ("webhook_url", "output_path_template"):
            body.pop(name, None)
        for out in body.get("outputs") or []:
            if isinstance(out, dict) and out.get("type") == "webm" and isinstance(out.get("video"), dict):
                out["video"]["codec"] = "vp9"
    headers = {"Authorization": f"Bearer {FUZZ_KEY}"}
    resp = case.call_and_validate(base_url=fuzz_url, headers=headers, checks=CHECKS, timeout=15)
    if resp.status_code in (200, 202):
        job = resp.json()
        read = httpx.get(f"{fuzz_url}/v1/jobs/{job['id']}", headers=headers, timeout=15)
        assert read.status_code == 200, read.text
        assert read.json()["outputs"] == job["outputs"] and read.json()["metadata"] == job["metadata"]

"""The API's shape: its OpenAPI says how to authenticate and groups every operation under a tag, and
its modules keep their layering — no worker code (activities, workflows) in the gateway, no router
importing another, `app.state` read in one place.

No Temporal here: the app is built without starting it (its lifespan connects), and the only routes
called need nothing but the API keys.
"""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import SCHEME_NAME
from recast.infra import config, keys

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"
KEY, ORG = "structure-key", "structure-org"
# Operations whose credential is a signed token in the URL, not an API key.
TOKEN_OPERATIONS = {
    ("get", "/v1/files/{token}"),
    ("get", "/v1/files/{token}/{name}"),
    ("head", "/v1/uploads/{upload_id}"),
    ("put", "/v1/uploads/{upload_id}"),
    ("options", "/v1/tus/"),  # tus discovery: what the server supports, asked before any key is sent
}


def make_app() -> Any:
    return create_app(config.Settings(storage_url="memory://", api_key_hashes=keys.parse_env(f"{KEY}={ORG}")))


def get(path: str, headers: dict[str, str]) -> httpx.Response:
    """One request to the app in-process (its lifespan, which connects to Temporal, is not run)."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=make_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://recast.test") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(call())


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    schema: dict[str, Any] = make_app().openapi()
    return schema


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_the_schema_declares_the_bearer_scheme(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"][SCHEME_NAME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"


def test_every_keyed_operation_requires_the_bearer_key(spec: dict[str, Any]) -> None:
    v1 = [(m, p, op) for m, p, op in operations(spec) if p.startswith("/v1/")]
    assert v1
    keyed = {(m, p) for m, p, _ in v1} - TOKEN_OPERATIONS
    assert TOKEN_OPERATIONS <= {(m, p) for m, p, _ in v1}, "a token route moved: update TOKEN_OPERATIONS"
    for method, path, op in v1:
        if (method, path) in keyed:
            assert op.get("security") == [{SCHEME_NAME: []}], f"{method.upper()} {path}"
            assert "401" in op["responses"] and "403" in op["responses"], f"{method.upper()} {path}"
        else:  # the token is the credential: no key asked for, none sent by /docs
            assert "security" not in op, f"{method.upper()} {path}"


def test_every_v1_operation_has_a_tag(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if path.startswith("/v1/"):
            assert len(op.get("tags", [])) == 1, f"{method.upper()} {path}: {op.get('tags')}"
    tags = {op["tags"][0] for _, p, op in operations(spec) if p.startswith("/v1/")}
    assert {"jobs", "uploads", "files", "optimize", "presets"} <= tags


def test_a_key_sent_as_the_authorize_button_does_is_accepted() -> None:
    """Swagger UI's Authorize sends `Authorization: Bearer <key>`; the scheme word is case-insensitive."""
    for scheme in ("Bearer", "bearer"):
        resp = get("/v1/presets", {"Authorization": f"{scheme} {KEY}"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
    ],
)
def test_no_valid_key_is_401_in_the_error_shape(headers: dict[str, str]) -> None:
    resp = get("/v1/presets", headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["error"]["code"] == "unauthorized"


def test_another_organization_id_is_403_in_the_error_shape() -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    ok = get("/v1/presets", {**headers, "X-Organization-ID": ORG})
    assert ok.status_code == 200
    resp = get("/v1/presets", {**headers, "X-Organization-ID": "someone-else"})
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "organization-mismatch"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports made absolute (`from . import x` → pkg.x)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def api_modules() -> list[Path]:
    return sorted(API.rglob("*.py"))


def test_the_api_imports_no_worker_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in api_modules()
        for name in imported_modules(path)
        if name.split(".")[0] in ("activities", "workflows", "worker")
    ]
    assert not offenders, "the API must not import activity or workflow modules:\n" + "\n".join(offenders)


def test_no_worker_code_is_loaded_with_the_app() -> None:
    """Transitively too: building the app loads no activity or workflow module."""
    code = (
        "import sys, api.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('activities', 'workflows', 'worker')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_routers_do_not_import_each_other() -> None:
    routers = {p.stem for p in (API / "routes").glob("*.py") if p.stem != "__init__"}
    assert {"jobs", "uploads", "files", "optimize", "presets", "events"} <= routers
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((API / "routes").glob("*.py"))
        for name in imported_modules(path)
        if name.startswith("api.routes.") and name.split(".")[2] in routers
    ]
    assert not offenders, "routers share code through api/services or api/deps:\n" + "\n".join(offenders)


def test_app_state_is_read_only_in_deps() -> None:
    """Routes and services get what the app holds as typed dependencies (api/deps.py), not untyped
    `request.app.state.*` reads."""
    offenders = []
    for path in api_modules():
        if path.name in ("deps.py", "app.py"):  # deps reads it; app.py puts the AppState there
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "state":
                if isinstance(node.value, ast.Attribute) and node.value.attr == "app":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders

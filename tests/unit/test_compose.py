"""The production deployment files — docker-compose.yml, Dockerfile, .dockerignore — checked against the code.

Docker itself is not needed: the files are parsed and what they name (variables, modules, routes,
copied paths) is looked up in the project.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from recast.infra.config import Settings
from recast.infra.config_text import env_name
from recast.infra.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
RECAST_SERVICES = ("api", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {name: value for name, _, value in (item.partition("=") for item in env)}
    return {name: "" if value is None else str(value) for name, value in env.items()}


def config_variables() -> set[str]:
    """The RECAST_* names the Settings model (recast/infra/config.py) reads."""
    return {env_name(name, field) for name, field in Settings.model_fields.items()}


def build_of(service: dict[str, Any]) -> tuple[Path, str]:
    build = service["build"]
    if isinstance(build, str):
        return (ROOT / build).resolve(), "Dockerfile"
    return (ROOT / build.get("context", ".")).resolve(), build.get("dockerfile", "Dockerfile")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command, _, args = (pending + line).partition(" ")
        instructions.append((command.upper(), args.strip()))
        pending = ""
    return instructions


def instruction_args(name: str) -> list[str]:
    return [args for command, args in dockerfile_instructions() if command == name]


def test_compose_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    for name in ("postgresql", "temporal", "temporal-ui", "minio", "minio-init", "api", "worker"):
        assert name in services, f"docker-compose.yml has no {name!r} service"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither an image nor a build"
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag and tag not in ("", "latest"), f"{name}: unpinned {image!r}"


def test_temporal_runs_on_postgresql(services: dict[str, dict[str, Any]]) -> None:
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/auto-setup:")
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert env["POSTGRES_USER"] == environment(services["postgresql"])["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == environment(services["postgresql"])["POSTGRES_PASSWORD"]
    assert temporal["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgresql"]
    assert any(str(port).endswith(":7233") for port in temporal["ports"])
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_recast_waits_for_a_healthy_temporal(services: dict[str, dict[str, Any]]) -> None:
    assert "healthcheck" in services["temporal"]
    for name in RECAST_SERVICES:
        assert services[name]["depends_on"]["temporal"]["condition"] == "service_healthy", name


def test_worker_registers_the_search_attributes() -> None:
    # auto-setup's server gets no --search-attribute flags (unlike the dev server `make run` starts):
    # RecastStatus / RecastOrganization exist only because the worker registers them at start.
    worker = importlib.import_module("worker")
    assert "ensure_search_attributes(" in inspect.getsource(worker.main)


def test_worker_sets_retention_and_the_cleanup_schedule(services: dict[str, dict[str, Any]]) -> None:
    # auto-setup creates the namespace with its own retention; the worker brings it to RECAST_JOB_RETENTION
    # and creates the cleanup schedule, from the same variables the API reads the TTL from.
    worker = importlib.import_module("worker")
    assert "ensure_lifecycle(" in inspect.getsource(worker.main)
    for name in RECAST_SERVICES:
        env = environment(services[name])
        assert {"RECAST_JOB_RETENTION", "RECAST_OUTPUT_TTL"} <= set(env), name


def test_api_and_worker_build_the_same_image(services: dict[str, dict[str, Any]]) -> None:
    api, worker = (build_of(services[name]) for name in RECAST_SERVICES)
    assert api == worker
    context, dockerfile = api
    assert context == ROOT
    assert (context / dockerfile).is_file()


def test_worker_runs_worker_py(services: dict[str, dict[str, Any]]) -> None:
    command = services["worker"]["command"]
    args = command if isinstance(command, list) else command.split()
    assert args[0].startswith("python") and args[1] == "worker.py"
    assert (ROOT / "worker.py").is_file()
    assert "command" not in services["api"], "the api runs the image's default CMD"


def test_recast_variables_are_ones_the_config_reads(services: dict[str, dict[str, Any]]) -> None:
    known = config_variables()
    assert {"RECAST_TEMPORAL_ADDRESS", "RECAST_API_KEYS", "RECAST_SIGNING_SECRET"} <= known
    for name in RECAST_SERVICES:
        env = environment(services[name])
        unknown = {var for var in env if var.startswith("RECAST_")} - known
        assert not unknown, f"{name} sets variables recast/infra/config.py never reads: {sorted(unknown)}"
        assert env["RECAST_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert environment(services["api"])["RECAST_HOST"] == "0.0.0.0"


def test_secrets_come_from_the_environment_and_are_required(services: dict[str, dict[str, Any]]) -> None:
    # The API hands out download URLs the workers signed: both must get the same secret, never a default.
    for name in RECAST_SERVICES:
        env = environment(services[name])
        for var in ("RECAST_API_KEYS", "RECAST_SIGNING_SECRET", "RECAST_WEBHOOK_SECRET"):
            assert env[var].startswith("${" + var + ":?"), f"{name}: {var} must be required, got {env[var]!r}"


def test_local_storage_is_one_volume_shared_by_api_and_workers(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    mounts = []
    for name in RECAST_SERVICES:
        env = environment(services[name])
        if env.get("RECAST_STORAGE_URL", "fs://").split("://")[0] != "fs":
            continue  # object storage: nothing to share on disk
        data_dir = env["RECAST_DATA_DIR"]
        volumes = [str(v).split(":") for v in services[name].get("volumes", [])]
        named = [source for source, target, *_ in volumes if target == data_dir]
        assert named, f"{name}: nothing mounted at RECAST_DATA_DIR={data_dir}"
        assert named[0] in (compose.get("volumes") or {}), f"{named[0]} is not a named volume"
        mounts.append((named[0], data_dir))
    assert len(set(mounts)) <= 1, f"api and worker see different storage: {mounts}"


def test_dockerfile_installs_ffmpeg_and_runs_unprivileged() -> None:
    assert instruction_args("FROM") == ["python:3.11-slim-bookworm"]
    assert any(
        re.search(r"apt-get install\b.*\bffmpeg\b", run) and "rm -rf /var/lib/apt/lists" in run
        for run in instruction_args("RUN")
    )
    assert any(re.search(r"pip install\b.*(?<![\w.])\.(\s|$)", run) for run in instruction_args("RUN"))
    users = instruction_args("USER")
    assert users and users[-1] not in ("root", "0")


def test_dockerfile_cmd_serves_the_api_app(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (cmd,) = instruction_args("CMD")
    args: list[str] = json.loads(cmd)  # exec form, so signals reach uvicorn
    assert args[0] == "uvicorn"
    target = next(arg for arg in args[1:] if re.fullmatch(r"[\w.]+:\w+", arg))
    module_name, attr = target.split(":")
    app_or_factory = getattr(importlib.import_module(module_name), attr)

    assert args[args.index("--host") + 1] == "0.0.0.0"
    port = args[args.index("--port") + 1]
    assert any(str(p).split(":")[-1] == port for p in services["api"]["ports"]), "api publishes another port"

    monkeypatch.setenv("RECAST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECAST_SIGNING_SECRET", "compose-test")
    monkeypatch.delenv("RECAST_STORAGE_URL", raising=False)
    app = app_or_factory() if "--factory" in args else app_or_factory
    routes = {getattr(route, "path", None) for route in app.routes}
    health = re.search(r"http://[^/\s]+(/[\w/-]*)", " ".join(services["api"]["healthcheck"]["test"]))
    assert health and health.group(1) in routes, "the api healthcheck asks for a route the app lacks"


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "negations are not handled by this check"

    def ignored(path: str) -> bool:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatch.fnmatch(prefix, pattern.rstrip("/").removeprefix("**/"))
            or fnmatch.fnmatch(prefix, pattern)
            for pattern in patterns
            for prefix in prefixes
        )

    for excluded in (".venv", "var", ".git", "bench/results", "api/__pycache__"):
        assert ignored(excluded), f"{excluded} would be sent to the Docker build"
    for copy in instruction_args("COPY"):
        *sources, _dest = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert not ignored(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"


def test_temporal_gives_recasts_queue_one_partition(services: dict[str, dict[str, Any]]) -> None:
    # Task priority is applied within one partition only; the mounted dynamic config must say one.
    temporal = services["temporal"]
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    [mount] = [v for v in temporal["volumes"] if v.split(":")[1] == path]
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    for key in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions"):
        [entry] = config[key]
        assert entry["value"] == 1
        assert entry["constraints"]["taskQueueName"] == services["worker"]["environment"]["RECAST_TASK_QUEUE"]


def test_recast_stores_in_the_minio_bucket(services: dict[str, dict[str, Any]]) -> None:
    # S3 storage on the MinIO service: the bucket minio-init creates, MinIO's own credentials, and
    # pre-signed URLs for an address clients can reach (not the in-network `minio` host name).
    minio = environment(services["minio"])
    init = " ".join(services["minio-init"]["command"])
    storage_vars = (
        "RECAST_STORAGE_URL",
        "RECAST_S3_ENDPOINT",
        "RECAST_S3_PUBLIC_ENDPOINT",
        "RECAST_S3_REGION",
        "RECAST_S3_ACCESS_KEY_ID",
        "RECAST_S3_SECRET_ACCESS_KEY",
    )
    api, worker = (environment(services[name]) for name in RECAST_SERVICES)
    assert {v: api[v] for v in storage_vars} == {v: worker[v] for v in storage_vars}
    url = urlsplit(api["RECAST_STORAGE_URL"])
    assert url.scheme == "s3"
    assert re.search(rf"\bmc mb\b.*\blocal/{re.escape(url.netloc)}\b", init), (
        "minio-init makes another bucket"
    )
    endpoint = urlsplit(api["RECAST_S3_ENDPOINT"])
    assert endpoint.hostname == "minio" and endpoint.port == 9000
    assert "server /data" in services["minio"]["command"]
    assert api["RECAST_S3_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert api["RECAST_S3_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    public = re.fullmatch(
        r"\$\{RECAST_S3_PUBLIC_ENDPOINT:-(http://[^}]+)\}", api["RECAST_S3_PUBLIC_ENDPOINT"]
    )
    assert public and urlsplit(public.group(1)).port == 9000
    assert any(str(p).endswith(":9000:9000") for p in services["minio"]["ports"]), (
        "MinIO's S3 port is not published"
    )
    for name in RECAST_SERVICES:
        assert services[name]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    settings = Settings(
        s3_endpoint=api["RECAST_S3_ENDPOINT"],
        s3_region=api["RECAST_S3_REGION"],
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    storage = Storage(api["RECAST_STORAGE_URL"], settings)
    assert (storage.scheme, storage.bucket, storage.prefix) == ("s3", url.netloc, url.path.strip("/"))

"""The FastAPI gateway: REST onto Temporal. `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import (
    errors,
    openapi,
    routes_events,
    routes_files,
    routes_jobs,
    routes_list,
    routes_optimize,
    routes_presets,
    routes_uploads,
)
from api.job_store import JobStore
from recast.infra import config
from recast.infra.keys import KeyRing
from recast.infra.storage import Storage
from recast.infra.temporal import connect


def create_app(settings: config.Settings | None = None) -> FastAPI:
    settings = settings or config.load_or_exit()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect(settings)
        app.state.jobs = JobStore(client, settings.task_queue, read_cache_s=settings.read_cache_ms / 1000)
        yield

    app = FastAPI(
        title="Recast",
        version="0.1.0",
        description="Self-hosted media transcoding jobs on durable Temporal workflows.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = KeyRing(settings.api_key_hashes, settings.api_keys_file)  # refuses a bad keys file
    app.state.storage = Storage(settings.storage, settings)
    errors.install(app)
    app.include_router(routes_jobs.router)
    app.include_router(routes_optimize.router)
    app.include_router(routes_presets.router)
    app.include_router(routes_list.router)
    app.include_router(routes_events.router)
    app.include_router(routes_files.router)
    app.include_router(routes_uploads.router)
    # After the routers: finishes the schema they generate (request bodies parsed by hand, errors).
    openapi.install(app, routes_jobs.BODY_MODELS)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

"""The FastAPI gateway: REST onto Temporal. `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, routes_events, routes_files, routes_jobs, routes_list
from api.job_store import JobStore
from recast import config
from recast.storage import Storage
from recast.temporal import connect


def create_app(settings: config.Settings | None = None) -> FastAPI:
    settings = settings or config.load()

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
    app.state.storage = Storage(settings.storage)
    errors.install(app)
    app.include_router(routes_jobs.router)
    app.include_router(routes_list.router)
    app.include_router(routes_events.router)
    app.include_router(routes_files.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

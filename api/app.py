"""The FastAPI gateway: REST onto Temporal. `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import cors, errors, metrics, observability, openapi
from api.compat import convertly, ffmpeg_micro, hypervideo, pipelyn, transcodely
from api.job_store import JobStore
from api.limits import Limits
from api.routes import batches, events, files, jobs, optimize, presets, templates, tus, uploads, webhooks
from api.services.tus import TusResumableHeader
from api.state import AppState
from recast.infra import config, tracing
from recast.infra.keys import KeyRing
from recast.infra.storage import Storage
from recast.infra.temporal import connect


def create_app(settings: config.Settings | None = None) -> FastAPI:
    settings = settings or config.load_or_exit()
    state = AppState(
        settings=settings,
        keys=KeyRing(settings.api_key_hashes, settings.api_keys_file),  # refuses a bad keys file
        storage=Storage(settings.storage, settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect(settings)
        state.jobs = JobStore(
            client,
            settings.task_queue,
            read_cache_s=settings.read_cache_ms / 1000,
            output_ttl_s=settings.output_ttl_s,
            read_wait_s=settings.read_wait_ms / 1000,
            read_max_age_s=settings.read_max_age_ms / 1000,
        )
        state.limits = Limits(client, settings.max_concurrent_jobs, settings.max_submissions_per_minute)
        # What start-up made (modules, the app, the client) lives as long as the process: frozen out of
        # the collector, a full collection no longer walks it (one stalled the event loop for 60-100 ms
        # of every busy minute, and with it every poll in flight; bench/poll_load.py --case burst).
        gc.collect()
        gc.freeze()
        yield
        tracing.shutdown()  # export the spans still batched

    app = FastAPI(
        title="Recast",
        version="0.1.0",
        description="Self-hosted media transcoding jobs on durable Temporal workflows.",
        lifespan=lifespan,
    )
    app.state.recast = state  # read only through api/deps.py
    # Logging and tracing before the client connects: its tracing interceptor depends on them.
    observability.install(app, settings)
    errors.install(app)
    # Added before CORS, so it runs inside it: preflights answered by CORS need no tus header.
    app.add_middleware(TusResumableHeader)
    cors.install(app, settings.cors_origins)
    for module in (jobs, optimize, presets, events, files, uploads, webhooks, tus, templates, batches):
        app.include_router(module.router)
    # Drop-in routes of hosted APIs (api/compat/, docs/compat/), each with its own OpenAPI tag.
    for compat in (pipelyn, ffmpeg_micro, convertly, hypervideo, transcodely):
        app.include_router(compat.router)
    if settings.api_metrics:
        metrics.install(app)
    # After the routers: finishes the schema they generate (request bodies parsed by hand, errors).
    openapi.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

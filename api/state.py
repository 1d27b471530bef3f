"""What the gateway holds for its lifetime, in one typed place (`app.state.recast`, read by api/deps.py)."""

from __future__ import annotations

from dataclasses import dataclass

from api.job_store import JobStore
from api.limits import Limits
from recast.infra.config import Settings
from recast.infra.keys import KeyRing
from recast.infra.storage import Storage


@dataclass
class AppState:
    """Settings, keys and storage exist from `create_app` on (a bad keys file is refused there); the job
    store and the limits need the Temporal client, so the app's lifespan sets them when it starts."""

    settings: Settings
    keys: KeyRing
    storage: Storage
    jobs: JobStore | None = None
    limits: Limits | None = None

"""What every activity needs from the worker: the configured storage, scratch space and ffprobe, and
(on a worker that runs the upload step) its staging area for finished outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activities.scratch import StagingArea
from activities.warm_ffprobe import WarmProbes
from recast.infra.config import Settings
from recast.infra.storage import Storage


@dataclass
class Deps:
    settings: Settings
    storage: Storage
    probes: WarmProbes
    # Set by a worker that polls its own task queue for store_output: output activities then leave
    # their results here for it instead of storing them themselves.
    staging: StagingArea | None = None

    @property
    def scratch(self) -> Path:
        return self.settings.scratch_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            storage=Storage(settings.storage, settings),
            probes=WarmProbes(),
        )

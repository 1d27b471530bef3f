"""What every activity needs from the worker: the configured storage, scratch space and ffprobe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activities.warm_ffprobe import WarmProbes
from recast.infra.config import Settings
from recast.infra.storage import Storage


@dataclass
class Deps:
    settings: Settings
    storage: Storage
    probes: WarmProbes

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

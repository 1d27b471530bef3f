"""Recast's client side: the Python SDK (`Recast`, `AsyncRecast`, `RecastError`), the `recast` command
(cli.py) and the child-workflow interface (child.py).

The SDK is imported on first use (PEP 562 `__getattr__`): `from recast.client import child` inside a
Temporal workflow must not pull in httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recast.client.aio import AsyncRecast
    from recast.client.base import RecastError
    from recast.client.sync import Recast

__all__ = ["AsyncRecast", "Recast", "RecastError"]


def __getattr__(name: str) -> Any:
    if name == "Recast":
        from recast.client.sync import Recast

        return Recast
    if name == "AsyncRecast":
        from recast.client.aio import AsyncRecast

        return AsyncRecast
    if name == "RecastError":
        from recast.client.base import RecastError

        return RecastError
    raise AttributeError(f"module 'recast.client' has no attribute {name!r}")

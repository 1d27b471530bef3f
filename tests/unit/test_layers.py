"""The layers' import direction, checked on the source: api → core/infra; activities → media/infra/core;
workflows → core only; core imports nothing else of Recast's (it runs inside Temporal's workflow sandbox)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("recast", "api", "activities", "workflows", "worker")

# layer → the layers its modules may import (besides their own)
ALLOWED: dict[str, set[str]] = {
    "recast.core": set(),
    "recast.media": {"recast.core"},
    "recast.infra": {"recast.core"},
    "recast.client": {"recast.core"},
    "recast.devstack": {"recast.core", "recast.infra"},
    "workflows": {"recast.core"},
    "activities": {"recast.core", "recast.media", "recast.infra"},
    "api": {"recast.core", "recast.infra"},
    "worker": {"recast.core", "recast.media", "recast.infra", "activities", "workflows"},
}


def layer(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "recast" else parts[0]


def first_party_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "recast":  # `from recast import core` names the subpackage
                found.update(f"recast.{a.name}" for a in node.names)
            elif node.module.split(".")[0] in FIRST_PARTY:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] in FIRST_PARTY)
    return found


def modules() -> list[tuple[str, Path]]:
    out = [("worker", ROOT / "worker.py")]
    for top in ("recast", "api", "activities", "workflows"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            out.append((".".join(p for p in rel.parts if p != "__init__"), path))
    return out


def test_recast_is_split_into_known_layers() -> None:
    loose = [name for name, _ in modules() if name.startswith("recast.") and layer(name) not in ALLOWED]
    assert not loose, f"modules outside recast's layers (core, media, infra, client, devstack): {loose}"


@pytest.mark.parametrize("name,path", modules(), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_imports_follow_the_layers(name: str, path: Path) -> None:
    own = layer(name)
    wrong = sorted(i for i in first_party_imports(path) if layer(i) != own and layer(i) not in ALLOWED[own])
    assert not wrong, f"{name} ({own}) may import only {sorted(ALLOWED[own])}, but imports {wrong}"


def test_no_module_is_a_wall_of_code() -> None:
    big = {name: n for name, path in modules() if (n := len(path.read_text().splitlines())) > 550}
    assert not big, f"modules over ~500 lines: {big}"

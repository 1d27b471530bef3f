"""Print Recast's layers as a newcomer meets them: module sizes and the import arrows between layers.

    .venv/bin/python scripts/layers.py [ROOT]

A layer is a top-level folder (api, activities, workflows, worker, bench, tests) or a subpackage of
`recast` (recast.core, recast.media, …). tests/unit/test_layers.py enforces the allowed arrows; this
script shows the whole picture (the figures in the structure issue's closing note came from it).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PACKAGES = ("recast", "api", "activities", "workflows", "worker", "bench", "tests")


def layer_of(module: str) -> str:
    """`recast.core.job` → `recast.core`; `api.routes.jobs` → `api`; `worker` → `worker`."""
    parts = module.split(".")
    if parts[0] == "recast" and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0] if parts[0] != "recast" else module


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


def imports(path: Path) -> set[str]:
    """Absolute imports of first-party modules in one file, at any depth (function-level ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found.update(n for n in names if n.split(".")[0] in PACKAGES)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] in PACKAGES)
    return found


def sources(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.py")
        if p.relative_to(root).parts[0] in {*PACKAGES, "worker.py"} and ".venv" not in p.parts
    )


def arrows(root: Path) -> Counter[tuple[str, str]]:
    """(importing layer, imported layer) → number of files with such an import."""
    modules = {module_name(root, p) for p in sources(root)}
    counts: Counter[tuple[str, str]] = Counter()
    for path in sources(root):
        src = layer_of(module_name(root, path))
        targets = set()
        for name in imports(path):
            # `from recast.core import job` names the module recast.core.job; keep the longest that exists
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules and layer_of(name) != src:
                targets.add(layer_of(name))
        for target in targets:
            counts[(src, target)] += 1
    return counts


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    sizes = {module_name(root, p): len(p.read_text().splitlines()) for p in sources(root)}
    code = {m: n for m, n in sizes.items() if not m.startswith(("tests", "bench"))}
    print(f"modules (excluding tests, bench): {len(code)}, {sum(code.values())} lines")
    by_layer: Counter[str] = Counter()
    for m, n in code.items():
        by_layer[layer_of(m)] += n
    for layer, n in by_layer.most_common():
        print(f"  {layer:18} {n:6} lines, {sum(1 for m in code if layer_of(m) == layer):3} modules")
    print("largest modules:")
    for m, n in sorted(code.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {n:5}  {m}")
    print(f"modules over 500 lines: {sum(1 for n in code.values() if n > 500)}")
    print("import arrows between layers (files importing):")
    for (a, b), n in sorted(arrows(root).items()):
        if not a.startswith(("tests", "bench")):
            print(f"  {a:18} → {b:18} {n}")
    readme = root / "README.md"
    print(f"README.md: {len(readme.read_text().splitlines())} lines, {readme.stat().st_size // 1024} KB")
    tests = [p for p in sources(root) if p.parts[len(root.parts)] == "tests" and p.name.startswith("test_")]
    print(f"test files: {len(tests)}")


if __name__ == "__main__":
    main()

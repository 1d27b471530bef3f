"""Organizations and keys without a stack: the keys CLI refuses bad organizations and bad files,
and the API refuses to start with a malformed keys file."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from recast.infra import config, keys
from tests.helpers import add_key


def test_cli_refuses_bad_organizations_and_bad_files(tmp_path: Path) -> None:
    f = tmp_path / "keys"
    for org in ("../etc", "two words", ".hidden", "a/b"):
        done = add_key(f, org)
        assert done.returncode != 0 and done.stdout == "", (org, done.stdout)
        assert "organization" in done.stderr
    assert not f.exists(), "a refused key must not be written"
    f.write_text("sha256:nothex acme\n")
    done = add_key(f, "acme")
    assert done.returncode != 0 and "line 1" in done.stderr and done.stdout == ""
    assert f.read_text() == "sha256:nothex acme\n"


def test_the_api_refuses_to_start_with_a_malformed_keys_file(tmp_path: Path) -> None:
    f = tmp_path / "keys"
    f.write_text(f"# ok\nsha256:{'a' * 64} acme\nsha256:{'b' * 63} globex\n")
    settings = config.Settings(storage_url="memory://", api_keys_file=f)
    with pytest.raises(keys.KeysError, match="line 3"):
        create_app(settings)
    with pytest.raises(FileNotFoundError):
        create_app(config.Settings(storage_url="memory://", api_keys_file=tmp_path / "missing"))

"""`GET /v1/jobs` pieces that need no stack: the search-attribute query quoting."""

from __future__ import annotations

from api.visibility import base_query, quote


def test_quote_keeps_values_inside_the_literal() -> None:
    assert quote("o'brien") == "'o\\'brien'"
    assert quote("a\\") == "'a\\\\'"  # a trailing backslash cannot escape the closing quote
    query = base_query("x' OR RecastOrganization != '", None)
    assert "RecastOrganization = 'x\\' OR RecastOrganization != \\'' AND" in query

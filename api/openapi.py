"""The OpenAPI schema FastAPI generates, finished so that it says exactly what the API does
(tests/e2e/test_fuzz.py fuzzes the live API against it and fails on any difference)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from recast.core import presets
from recast.core.requests import JobCreate, OptimizeCreate

REF_TEMPLATE = "#/components/schemas/{model}"
# Bodies the submit routes parse themselves (JSON or a streamed form, api/services/submission.py),
# named by $ref in SUBMIT_BODY: `install` adds them to the schema's components.
BODY_MODELS: list[type[BaseModel]] = [JobCreate, OptimizeCreate]

SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["media"],
                    "properties": {
                        "media": {"type": "string", "format": "binary", "description": "the input file"},
                        "outputs": {
                            "type": "string",
                            "description": "JSON array of outputs, as in JobCreate",
                        },
                        "thumbnails": {
                            "type": "string",
                            "description": "JSON array of thumbnails specs, as in JobCreate",
                        },
                        "metadata": {"type": "string", "description": "JSON object of string metadata"},
                        "clip": {
                            "type": "string",
                            "description": "JSON object {start, end}, as in JobCreate",
                        },
                        **{
                            name: {"type": "string", "description": f"as `{name}` in JobCreate"}
                            for name in (
                                "priority",
                                "delayed_start",
                                "idempotency_key",
                                "webhook_url",
                                "webhook_secret",
                                "output_path_template",
                                "template",
                                "template_version",
                                "chunking",
                                "chunk_duration",
                            )
                        },
                    },
                }
            },
        },
    }
}


def optimize_body() -> dict[str, Any]:
    """POST /v1/jobs' body, with OptimizeCreate's JSON schema and the form's `outputs` optional."""
    body: dict[str, Any] = copy.deepcopy(SUBMIT_BODY)
    content = body["requestBody"]["content"]
    content["application/json"]["schema"]["$ref"] = "#/components/schemas/OptimizeCreate"
    form = content["multipart/form-data"]["schema"]
    form["required"] = ["media"]
    form["properties"]["outputs"]["description"] = (
        f"JSON array of one output, as in OptimizeCreate; omitted: the `{presets.DEFAULT}` preset"
    )
    del form["properties"]["delayed_start"]
    return body


def install(app: FastAPI, body_models: Sequence[type[BaseModel]] = BODY_MODELS) -> None:
    """Post-process `app.openapi()` once: add `body_models` (request bodies a route parses itself and
    declares by `$ref` in `openapi_extra`, which FastAPI does not add to the components), and document
    errors as they are sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()  # FastAPI caches it in app.openapi_schema: edited in place
            _add_models(schema, body_models)
            _document_errors(schema)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _add_models(schema: dict[str, Any], models: Sequence[type[BaseModel]]) -> None:
    if not models:
        return
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)


def _own_error_shape(response: dict[str, Any]) -> bool:
    """A response a route documented with an error model of its own: the drop-in APIs (api/compat/)
    answer errors in their API's shape, not Recast's."""
    ref = str(response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", ""))
    return bool(ref) and not ref.endswith("/ErrorResponse")


def _document_errors(schema: dict[str, Any]) -> None:
    """Every 4xx/5xx is the JSON ErrorResponse (FastAPI would file it under a streaming route's own media
    type), and there is no FastAPI 422: validation failures are 400 `invalid-input` here."""
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            # FastAPI's own 422 (request validation) is never sent; a route's declared 422 is kept.
            if "HTTPValidationError" in str(responses.get("422", {}).get("content", "")):
                del responses["422"]
            for status, response in responses.items():
                if status[0] in "45" and not _own_error_shape(response):
                    response["content"] = dict(error_content)
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)

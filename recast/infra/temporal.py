"""Connecting to Temporal the one way every Recast process does, and registering search attributes."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import PayloadLimitsConfig

from recast.core.contract import SEARCH_ATTRIBUTES
from recast.infra import tracing
from recast.infra.config import Settings

DEFAULT_ADDRESS = "127.0.0.1:7233"
MEMO_WARN_BYTES = 256 * 1024
# Listed for the Temporal Web UI too, so jobs can be filtered there by the same fields as the API.
_INDEXED_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address or DEFAULT_ADDRESS,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        # The workflow publishes the whole Job as its memo (the API's one-describe read), ~1 KB per
        # output: the SDK's default warning at 2 KiB would fire for any job with two outputs. The
        # server refuses memos only past 2 MiB; warn when one is far past the usual size.
        payload_limits=PayloadLimitsConfig(memo_warn_size=MEMO_WARN_BYTES),
        # Temporal's tracing interceptor when traces are on (recast.infra.tracing.setup ran): the trace
        # goes from the API's start through the workflow to every activity. None when off.
        interceptors=tracing.client_interceptors(),
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register Recast's custom search attributes if missing (the dev server gets them as flags)."""
    have = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: _INDEXED_TYPES[kind]
        for name, kind in SEARCH_ATTRIBUTES.items()
        if name not in have.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )

"""Connecting to Temporal the one way every Recast process does, and registering search attributes.

Where to connect follows Temporal's own environment configuration (`temporalio.envconfig`), the same
that the `temporal` CLI and every SDK read: the `TEMPORAL_*` variables (`TEMPORAL_ADDRESS`,
`TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`,
`TEMPORAL_TLS_CLIENT_CERT_PATH`, `TEMPORAL_TLS_CLIENT_KEY_PATH`, `TEMPORAL_TLS_SERVER_NAME`, …) over a
TOML profile (`TEMPORAL_PROFILE` of `TEMPORAL_CONFIG_FILE`, by default
`~/.config/temporalio/temporal.toml`). So one set of variables serves Recast, the `temporal` CLI and
any other Temporal program. The older `RECAST_TEMPORAL_ADDRESS` / `RECAST_TEMPORAL_NAMESPACE` still
work, only where Temporal's configuration leaves the address or namespace unset (deprecated).

Whatever the connection, the client always gets the pydantic data converter: the Job models are the
workflow's payloads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.runtime import Runtime
from temporalio.service import PayloadLimitsConfig, RPCError

from recast.core.contract import SEARCH_ATTRIBUTES
from recast.infra import tracing
from recast.infra.config import Settings

log = logging.getLogger("recast.temporal")
DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
MEMO_WARN_BYTES = 256 * 1024
# Listed for the Temporal Web UI too, so jobs can be filtered there by the same fields as the API.
_INDEXED_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


class TemporalConnectionError(RuntimeError):
    """Temporal could not be reached with the configured settings; the message names them."""


@dataclass(frozen=True)
class Target:
    """Where and how to connect, resolved from Temporal's configuration (and Recast's fallbacks)."""

    address: str
    namespace: str
    source: str  # where the address came from, for messages
    api_key: str | None = None
    tls: ClientConfigTLS | None = None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    configured: bool = True  # False: nothing set, the local default address

    @property
    def uses_tls(self) -> bool:
        # As the SDK decides: an API key turns TLS on unless TLS is explicitly disabled.
        if self.tls is not None:
            return self.tls.disabled is not True
        return self.api_key is not None

    def describe(self) -> str:
        """`host:port` and namespace, with what the TLS and credentials settings are (never secrets)."""
        parts = [f"namespace {self.namespace}", f"address from {self.source}"]
        if not self.uses_tls:
            parts.append("plaintext (no TLS)")
        else:
            tls = self.tls or ClientConfigTLS()
            ca = f"server CA {_source(tls.server_root_ca_cert)}" if tls.server_root_ca_cert else "system CAs"
            parts.append(f"TLS ({ca}" + (f", server name {tls.server_name}" if tls.server_name else "") + ")")
            if tls.client_cert or tls.client_private_key:
                parts.append(
                    f"client certificate {_source(tls.client_cert)} / key {_source(tls.client_private_key)}"
                )
            else:
                parts.append("no client certificate")
        parts.append("API key set" if self.api_key else "no API key")
        return f"{self.address} ({'; '.join(parts)})"

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `Client.connect` (reads the certificate files)."""
        kwargs: dict[str, Any] = {"namespace": self.namespace, "rpc_metadata": dict(self.rpc_metadata)}
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key
        if self.tls is not None:
            kwargs["tls"] = self.tls.to_connect_tls_config()
        elif self.api_key is not None:
            kwargs["tls"] = True
        return kwargs


def target(settings: Settings, env: Mapping[str, str] | None = None) -> Target:
    """The connection Temporal's environment configuration describes (variables over the profile), with
    RECAST_TEMPORAL_ADDRESS / _NAMESPACE filling only what it leaves unset. Raises
    TemporalConnectionError for an unreadable configuration (e.g. a `TEMPORAL_PROFILE` that is not in the
    file)."""
    # A blank TEMPORAL_* variable is unset, as a blank RECAST_* one is (compose files pass `${VAR:-}`);
    # Temporal's loader would take a blank API key as a key, and turn TLS on.
    env = {
        k: v
        for k, v in (os.environ if env is None else env).items()
        if v.strip() or not k.startswith("TEMPORAL_")
    }
    try:
        profile = ClientConfigProfile.load(override_env_vars=env)
    except Exception as exc:  # the SDK's bridge raises its own ConfigError type
        raise TemporalConnectionError(f"cannot read Temporal's client configuration: {exc}") from exc
    if profile.address:
        address, configured = profile.address, True
        source = "TEMPORAL_ADDRESS" if env.get("TEMPORAL_ADDRESS") else _profile_name(env)
    elif settings.temporal_address:
        address, source, configured = settings.temporal_address, "RECAST_TEMPORAL_ADDRESS (deprecated)", True
    else:
        address, source, configured = DEFAULT_ADDRESS, "the default", False
    return Target(
        address=address,
        namespace=profile.namespace or settings.temporal_namespace or DEFAULT_NAMESPACE,
        source=source,
        api_key=profile.api_key,
        tls=profile.tls,
        rpc_metadata=profile.grpc_meta,
        configured=configured,
    )


def _source(source: DataSource | None) -> str:
    """A certificate's file, or that it was given inline (`…_DATA`): never its contents."""
    return str(source) if isinstance(source, Path) else "none" if source is None else "(inline data)"


def _profile_name(env: Mapping[str, str]) -> str:
    name = env.get("TEMPORAL_PROFILE") or "default"
    file = env.get("TEMPORAL_CONFIG_FILE") or "~/.config/temporalio/temporal.toml"
    return f"profile {name!r} of {file}"


async def connect(
    settings: Settings, runtime: Runtime | None = None, env: Mapping[str, str] | None = None
) -> Client:
    """A client on the configured Temporal, with the pydantic data converter, on `runtime` (the worker's
    serves its metrics; None: the SDK's default runtime). A failure is raised as TemporalConnectionError
    naming the address, namespace and TLS settings it tried, and why."""
    where = target(settings, env)
    if where.source.startswith("RECAST_"):
        log.warning("RECAST_TEMPORAL_ADDRESS is deprecated: set TEMPORAL_ADDRESS (see docs/temporal.md)")
    try:
        kwargs = where.connect_kwargs()
    except OSError as exc:  # a certificate or key file that cannot be read
        raise TemporalConnectionError(f"cannot connect to Temporal at {where.describe()}: {exc}") from exc
    try:
        return await Client.connect(
            where.address,
            data_converter=pydantic_data_converter,
            # The workflow publishes the whole Job as its memo (the API's one-describe read), ~1 KB per
            # output: the SDK's default warning at 2 KiB would fire for any job with two outputs. The
            # server refuses memos only past 2 MiB; warn when one is far past the usual size.
            payload_limits=PayloadLimitsConfig(memo_warn_size=MEMO_WARN_BYTES),
            runtime=runtime,
            # Temporal's tracing interceptor when traces are on (recast.infra.tracing.setup ran): the trace
            # goes from the API's start through the workflow to every activity. None when off.
            interceptors=tracing.client_interceptors(),
            **kwargs,
        )
    except Exception as exc:  # the SDK raises RuntimeError for transport and TLS failures
        raise TemporalConnectionError(_explain(where, exc)) from exc


_CLIENT_CERT_VARS = "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"


def _explain(where: Target, exc: BaseException) -> str:
    """The failure, the settings it was made with, and the likely reason in words."""
    cause = " ".join(str(exc).split())
    flat = cause.lower().replace(" ", "").replace("_", "")
    tls = where.tls or ClientConfigTLS()
    has_cert = bool(tls.client_cert or tls.client_private_key)
    dropped = any(
        w in flat for w in ("connectionclosed", "unexpectedeof", "closenotify", "reset", "brokenpipe")
    )
    hint = ""
    if "certificaterequired" in flat:
        hint = (
            f"the server requires a client certificate (mutual TLS): set {_CLIENT_CERT_VARS}"
            if not has_cert
            else "the server refused the client certificate: is it signed by a CA the server trusts?"
        )
    elif "unknownissuer" in flat or "certificateverifyfailed" in flat or "invalidcertificate" in flat:
        hint = "the server's certificate is not signed by a CA given: set TEMPORAL_TLS_SERVER_CA_CERT_PATH"
    elif "notvalidforname" in flat:
        hint = "the server's certificate is for another name: set TEMPORAL_TLS_SERVER_NAME"
    elif where.uses_tls and dropped:
        hint = (
            "the server closed the connection after the TLS handshake; if it requires a client certificate "
            f"(mutual TLS), set {_CLIENT_CERT_VARS}"
            if not has_cert
            else "the server closed the connection: was the client certificate accepted?"
        )
    elif not where.uses_tls and (dropped or "h2" in flat):
        hint = "the server may expect TLS: set TEMPORAL_TLS=true (or an API key, or certificates)"
    elif "namespace" in flat and "notfound" in flat:
        hint = "no such namespace: set TEMPORAL_NAMESPACE"
    return f"cannot connect to Temporal at {where.describe()}: {cause}" + (f" — {hint}" if hint else "")


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
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as exc:
        # Temporal Cloud (and clusters with authorization) do not let a namespace's client add them.
        listed = ", ".join(f"{name}={kind}" for name, kind in SEARCH_ATTRIBUTES.items() if name in missing)
        raise TemporalConnectionError(
            f"namespace {namespace!r} lacks Recast's search attributes ({listed}) and this client may not "
            f"add them ({exc.message}); add them once, e.g. `tcld namespace search-attributes add` on "
            "Temporal Cloud or `temporal operator search-attribute create` on a cluster"
        ) from exc

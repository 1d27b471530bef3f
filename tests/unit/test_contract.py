"""The Temporal contract holds: the worker registers exactly the declared activities, under the declared
names and with the declared types; the workflow's type, query and update names are the contract's."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import activity, workflow

import worker
from activities.deps import Deps
from recast.core import contract, output_activities
from recast.core.formats import OutputType
from recast.infra import config
from workflows import batch, cleanup, transcode


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    settings = config.Settings(
        data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s"
    )
    deps = Deps.from_settings(settings)
    yield deps
    deps.probes.close()


def definition(fn: object) -> activity._Definition:
    # The SDK's own reading of @activity.defn (what Worker and execute_activity use); no public accessor.
    return activity._Definition.must_from_callable(fn)  # type: ignore[arg-type]


def test_every_registered_activity_is_declared_with_the_same_name_and_types(deps: Deps) -> None:
    implementations = worker.activities(deps) + worker.upload_activities(deps) + worker.chunk_activities(deps)
    registered = {definition(fn).name: definition(fn) for fn in implementations}
    assert len(registered) == len(implementations)  # no name registered twice
    assert set(registered) == set(contract.ACTIVITIES)
    for name, declaration in contract.ACTIVITIES.items():
        declared = definition(declaration)
        assert declared.name == name
        implemented = registered[name]
        # The workflow sends the declared argument and decodes the declared result.
        assert implemented.arg_types == declared.arg_types, name
        assert implemented.ret_type == declared.ret_type, name


def test_output_activities_are_the_ones_the_workflow_routes_outputs_to() -> None:
    routed = {output_activities.OUTPUT_ACTIVITY.get(t, contract.ENCODE_OUTPUT) for t in OutputType}
    assert routed == set(contract.OUTPUT_ACTIVITIES)
    assert output_activities.TIMELINE_ACTIVITIES <= set(contract.OUTPUT_ACTIVITIES)


def test_workflow_names_match_the_contract() -> None:
    defn = workflow._Definition.must_from_class(transcode.TranscodeJob)
    assert defn.name == contract.WORKFLOW_TYPE == "TranscodeJob"
    assert set(defn.queries) == {contract.QUERY_JOB}
    assert set(defn.updates) == {contract.UPDATE_CANCEL, contract.UPDATE_CONFIRM}
    assert set(defn.signals) == set()  # none: the contract declares none
    assert transcode.JOB_MEMO == contract.JOB_MEMO
    assert workflow._Definition.must_from_class(cleanup.RecastCleanup).name == contract.CLEANUP_WORKFLOW_TYPE


def test_batch_workflow_names_match_the_contract() -> None:
    defn = workflow._Definition.must_from_class(batch.BatchJob)
    assert defn.name == contract.BATCH_WORKFLOW_TYPE == "BatchJob"
    assert set(defn.queries) == {contract.QUERY_BATCH}
    assert set(defn.updates) == {contract.UPDATE_CANCEL}
    assert (contract.BATCH_MEMO, contract.QUERY_BATCH) == ("batch", "batch")


def test_names_are_the_ones_running_workflows_and_histories_use() -> None:
    """A rename breaks replay of running jobs and the listing of old ones: these values never change."""
    assert set(contract.ACTIVITIES) == {
        "fetch_input",
        "probe_input",
        "encode_output",
        "package_stream",
        "encode_image",
        "make_thumbnails",
        "make_animation",
        "make_waveform",
        "sign_downloads",
        "deliver_webhook",
        "load_batch_page",
        "store_output",
        "cleanup_storage",
        "plan_chunks",
        "encode_chunk",
        "stitch_chunks",
        "remove_chunks",
    }
    assert contract.UPLOAD_STEP_PATCH == "upload-as-own-step"
    assert contract.CHUNKED_ENCODE_PATCH == "chunked-encode"
    assert contract.CLEANUP_WORKFLOW_TYPE == "RecastCleanup"
    assert contract.SEARCH_ATTRIBUTES == {
        "RecastStatus": "Keyword",
        "RecastOrganization": "Keyword",
        "RecastPriority": "Keyword",
        "RecastCreatedAt": "Datetime",
        "RecastBatch": "Keyword",
        "RecastRetryOf": "Keyword",
    }
    assert (contract.JOB_MEMO, contract.QUERY_JOB) == ("job", "job")
    assert (contract.UPDATE_CANCEL, contract.UPDATE_CONFIRM) == ("cancel", "confirm")
    assert contract.TASK_QUEUE_DEFAULT == config.TASK_QUEUE_DEFAULT == "recast"


def test_contract_imports_only_what_the_workflow_sandbox_passes() -> None:
    tree = ast.parse(Path(contract.__file__).read_text(encoding="utf-8"))
    modules = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    allowed = ("__future__", "collections.", "typing", "temporalio", "pydantic", "recast.core.")
    assert all(m and m.startswith(allowed) for m in modules), modules


def test_a_declaration_is_never_run() -> None:
    with pytest.raises(NotImplementedError):
        asyncio.run(contract.probe_input("key"))

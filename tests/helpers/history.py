"""What a job's workflow history says about its activities: each scheduled activity with the attempt it
ended on, the worker that ran it and how it ended (completed, failed, timed out, and which timeout),
and the patch markers the workflow recorded."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client


@dataclass
class ActivityRun:
    """One scheduled activity: Temporal retries it within this run, so `attempt` is the last one."""

    activity_type: str
    task_queue: str
    attempt: int = 0  # 0: never started
    identity: str = ""  # the worker that ran its last attempt
    outcome: str = "pending"  # completed, failed, timed-out:<TYPE>, canceled


def activity_runs(address: str, job_id: str) -> list[ActivityRun]:
    """Every ordinary activity the job's workflow scheduled, in order."""

    async def read() -> list[ActivityRun]:
        client = await Client.connect(address)
        runs: dict[int, ActivityRun] = {}
        async for event in client.get_workflow_handle(job_id).fetch_history_events():
            t = event.event_type
            if t == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                a = event.activity_task_scheduled_event_attributes
                runs[event.event_id] = ActivityRun(a.activity_type.name, a.task_queue.name)
            elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                s = event.activity_task_started_event_attributes
                runs[s.scheduled_event_id].attempt = s.attempt
                runs[s.scheduled_event_id].identity = s.identity
            elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                runs[event.activity_task_completed_event_attributes.scheduled_event_id].outcome = "completed"
            elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                runs[event.activity_task_failed_event_attributes.scheduled_event_id].outcome = "failed"
            elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                timed_out = event.activity_task_timed_out_event_attributes
                kind = TimeoutType.Name(timed_out.failure.timeout_failure_info.timeout_type)
                runs[timed_out.scheduled_event_id].outcome = f"timed-out:{kind.removeprefix('TIMEOUT_TYPE_')}"
            elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
                runs[event.activity_task_canceled_event_attributes.scheduled_event_id].outcome = "canceled"
        return list(runs.values())

    return asyncio.run(read())


def patch_markers(address: str, job_id: str) -> list[str]:
    """The IDs of the `workflow.patched` markers in the job's history, in order."""

    async def read() -> list[str]:
        client = await Client.connect(address)
        found = []
        async for event in client.get_workflow_handle(job_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = event.marker_recorded_event_attributes
                if marker.marker_name == "core_patch":  # the SDK's marker: {"id": …, "deprecated": …}
                    found.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
        return found

    return asyncio.run(read())

"""Prometheus metrics, scraped from a real worker and API after real jobs: the counters move by exactly
what was done (one job completed, one failed with `invalid-media`, submissions refused with 401, 400
and 429), 50 more jobs add no series (no label carries an ID, key or URL), and every metric the
provisioned Grafana dashboard queries is one the endpoints expose."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from recast.devstack.stack import Stack, free_port, wait_for_port
from tests.helpers import API_KEY, Api, Receiver, Scrape, delta, new_stack, receiving

ROOT = Path(__file__).resolve().parents[2]
MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
JPG = {"type": "jpg", "image": {"width": 64}}
SUBMISSIONS_PER_MINUTE = 3
# The counts asserted here need every encode to succeed: not the shared stacks' 3 s stall timeout, which
# a busy machine can exceed.
LOADED_MACHINE_STALL = "30"


@dataclass
class Metered:
    api: Api  # at most SUBMISSIONS_PER_MINUTE submissions a minute
    unlimited: Api  # a second API on the same queue, storage and worker, without limits
    worker_metrics: str

    def scrape(self) -> tuple[Scrape, Scrape]:
        return Scrape.of(self.worker_metrics), Scrape.of(f"{self.api.base_url}/metrics")


@pytest.fixture(scope="module")
def metered(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Metered]:
    data = tmp_path_factory.mktemp("metered")
    queue = f"recast-metrics-{data.name}"
    metrics_port = free_port()
    limited = new_stack(
        temporal,
        data,
        queue,
        RECAST_WORKER_METRICS_PORT=str(metrics_port),
        RECAST_MAX_SUBMISSIONS_PER_MINUTE=str(SUBMISSIONS_PER_MINUTE),
        RECAST_STALL_TIMEOUT=LOADED_MACHINE_STALL,
    )
    unlimited = new_stack(temporal, data, queue, RECAST_STALL_TIMEOUT=LOADED_MACHINE_STALL)
    try:
        limited.start_worker()
        wait_for_port("127.0.0.1", metrics_port)
        ports = free_port(), free_port()
        limited.start_api("127.0.0.1", ports[0])
        unlimited.start_api("127.0.0.1", ports[1], name="api-unlimited")
        yield Metered(
            Api(f"http://127.0.0.1:{ports[0]}"),
            Api(f"http://127.0.0.1:{ports[1]}"),
            f"http://127.0.0.1:{metrics_port}/metrics",
        )
    finally:
        unlimited.stop()
        limited.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint answering each delivery 500 once (so it fails, is retried and lands)."""
    with receiving(fail_first=1) as r:
        yield r


def all_delivered(receiver: Receiver) -> bool:
    """The job's completed status arrived, and every delivery came again after its 500 (and got a 200)."""
    with receiver.lock:
        requests = [(h["webhook-id"], json.loads(b)) for h, b in receiver.requests]
    final = any(b["event"] == "job.status_changed" and b["job"]["status"] == "completed" for _, b in requests)
    ids = [i for i, _ in requests]
    return final and all(ids.count(i) >= 2 for i in ids)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still not: {what}"
        time.sleep(0.2)


def error_code(resp: httpx.Response) -> str:
    code: str = resp.json()["error"]["code"]
    return code


def test_counters_move_by_exactly_the_jobs_done(
    metered: Metered, clips: dict[str, Path], receiver: Receiver
) -> None:
    api = metered.api
    worker0, api0 = metered.scrape()

    refused = httpx.post(f"{api.base_url}/v1/jobs", json={"input_url": "http://x/a.mp4", "outputs": [MP4]})
    assert refused.status_code == 401 and error_code(refused) == "unauthorized"
    invalid = api.http.post("/v1/jobs", json={"input_url": "http://x/a.mp4", "outputs": []})
    assert invalid.status_code == 400 and error_code(invalid) == "invalid-input"
    good = api.upload(clips["small"], [MP4], webhook_url=receiver.url)
    bad = api.upload(clips["notmedia"], [MP4])
    assert good.status_code == bad.status_code == 202, (good.text, bad.text)
    limited = api.upload(clips["small"], [MP4])
    assert limited.status_code == 429 and error_code(limited) == "rate-limited", limited.text
    done, failed = api.wait(good.json()["id"], timeout=240), api.wait(bad.json()["id"], timeout=240)
    assert done["status"] == "completed", done
    assert (failed["status"], failed["error_code"]) == ("failed", "invalid-media"), failed

    def settled() -> bool:
        """Both jobs counted (the workflow returns just after the API shows it finished) and every
        webhook the receiver answered counted, the last being the completed status."""
        worker = Scrape.of(metered.worker_metrics)
        with receiver.lock:
            answered = len(receiver.requests)
        return (
            delta(worker0, worker, "recast_jobs_finished_total") == 2
            and all_delivered(receiver)
            and delta(worker0, worker, "recast_webhook_deliveries_total") == answered
        )

    wait_until(settled, "both jobs and every webhook delivery counted")
    worker1, api1 = metered.scrape()

    def moved(name: str, **labels: str) -> float:
        return delta(worker0, worker1, name, **labels)

    assert moved("recast_jobs_finished_total", status="completed") == 1
    assert moved("recast_jobs_finished_total", status="failed") == 1
    assert moved("recast_job_failures_total", code="invalid-media") == 1
    assert moved("recast_job_failures_total") == 1
    # The failed job's output failed because the job did (`job-failed`): counted once, as the job's.
    assert moved("recast_output_failures_total") == 0
    assert moved("recast_job_queue_wait_seconds_count") == 2
    assert moved("recast_input_bytes_total") == done["input"]["size"] + failed["input"]["size"]
    assert moved("recast_output_bytes_total", type="mp4") == done["outputs"][0]["file_size_bytes"]
    assert moved("recast_output_encode_seconds_count", type="mp4", codec="h264") == 1
    assert moved("recast_output_encode_seconds_count") == 1
    assert moved("recast_output_realtime_factor_count", type="mp4", codec="h264") == 1
    assert moved("recast_output_realtime_factor_sum") > 0
    assert moved("recast_activity_attempts_total", activity="encode_output", outcome="succeeded") == 1
    assert moved("recast_activity_attempts_total", activity="encode_output", outcome="failed") == 0
    assert moved("recast_activity_attempts_total", activity="probe_input", outcome="failed") == 1
    with receiver.lock:
        deliveries = {h["webhook-id"] for h, _ in receiver.requests}
    assert moved("recast_webhook_deliveries_total", outcome="failed") == len(deliveries)
    assert moved("recast_webhook_deliveries_total", outcome="delivered") == len(deliveries)
    assert moved("recast_webhook_deliveries_total", outcome="refused") == 0
    assert moved("recast_webhook_deliveries_total", event="output.completed", outcome="delivered") == 1
    in_flight = [s for s in worker1.samples if s.name == "recast_activities_in_flight"]
    assert in_flight and all(s.value == 0 for s in in_flight), in_flight
    # The Temporal SDK's own metrics are on the same endpoint, in seconds, counters ending in _total.
    assert moved("temporal_workflow_completed_total", task_queue=_queue(worker1)) == 2
    assert moved("temporal_activity_execution_latency_seconds_count", activity_type="encode_output") == 1

    def api_moved(name: str, **labels: str) -> float:
        return delta(api0, api1, name, **labels)

    jobs = {"method": "POST", "route": "/v1/jobs"}
    assert api_moved("recast_api_requests_total", **jobs, status="202") == 2
    assert api_moved("recast_api_requests_total", **jobs, status="429") == 1
    assert api_moved("recast_api_requests_total", **jobs, status="401") == 1
    assert api_moved("recast_api_requests_total", **jobs, status="400") == 1
    assert api_moved("recast_api_request_duration_seconds_count", **jobs) == 5
    assert api_moved("recast_api_submissions_total", route="/v1/jobs") == 2
    assert api_moved("recast_api_rejections_total", route="/v1/jobs", reason="rate-limited") == 1
    assert api_moved("recast_api_rejections_total", route="/v1/jobs", reason="unauthorized") == 1
    assert api_moved("recast_api_rejections_total", route="/v1/jobs", reason="invalid-input") == 1
    assert api_moved("recast_api_rejections_total") == 3
    polls = api1.value("recast_api_requests_total", method="GET", route="/v1/jobs/{job_id}", status="200")
    assert polls >= 2
    # The scrape itself is not in the OpenAPI schema.
    assert "/metrics" not in api.http.get("/openapi.json").json()["paths"]


def _queue(scrape: Scrape) -> str:
    [queue] = {s.labels["task_queue"] for s in scrape.samples if s.name == "recast_jobs_finished_total"}
    return queue


URL_OR_KEY = re.compile(r"https?:|/v1/jobs/[^{]|" + re.escape(API_KEY))


def test_fifty_jobs_add_no_series(metered: Metered, clips: dict[str, Path]) -> None:
    api = metered.unlimited

    ids: list[str] = []  # every job's and output's ID

    def run_jobs(count: int) -> None:
        # In batches of five: on a loaded machine, 45 jobs queued at once can keep the last waiting long.
        for start in range(0, count, 5):
            batch = [api.submit(clips["small"], [JPG])["id"] for _ in range(min(5, count - start))]
            for job_id in batch:
                job = api.wait(job_id, timeout=240)
                assert job["status"] == "completed", job
                ids.extend([job_id, job["outputs"][0]["id"]])

    def scrape() -> tuple[Scrape, Scrape]:
        return Scrape.of(metered.worker_metrics), Scrape.of(f"{api.base_url}/metrics")

    run_jobs(5)  # every kind of series this job makes exists after the first few
    wait_until(lambda: scrape()[0].value("recast_jobs_finished_total") >= 5, "the first jobs counted")
    worker0, api0 = scrape()
    run_jobs(45)
    wait_until(lambda: delta(worker0, scrape()[0], "recast_jobs_finished_total") == 45, "the 45 jobs counted")
    worker1, api1 = scrape()
    assert delta(worker0, worker1, "recast_output_encode_seconds_count", type="jpg", codec="none") == 45
    for before, after in ((worker0, worker1), (api0, api1)):
        # A label holding an ID would give a family 45 new series (and a label 45 new values). The first
        # occurrence of a rare but bounded event (a canceled attempt, an empty poll, an error status from
        # the server under load) may add one, so the bound is a small constant, not zero.
        grown = Counter(family for family, _ in series(after) - series(before))
        assert all(n <= 3 for n in grown.values()), f"series added by 45 more jobs: {grown}"
        values = label_values(after)
        assert all(len(v) < 20 for v in values.values()), {k: len(v) for k, v in values.items()}
        for sample in after.samples:
            for label, value in sample.labels.items():
                assert not URL_OR_KEY.search(value), f"{sample.name}{{{label}={value!r}}}"
                assert not any(i in value for i in ids), f"{sample.name}{{{label}={value!r}}}"


def series(scrape: Scrape) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(family, labels) of every series, a histogram counted once (not once per bucket)."""
    return {
        (re.sub(r"_(bucket|count|sum)$", "", name), tuple(kv for kv in labels if kv[0] != "le"))
        for name, labels in scrape.series()
    }


def label_values(scrape: Scrape) -> dict[tuple[str, str], set[str]]:
    """(sample name, label) → the values it takes; buckets' `le` aside."""
    found: dict[tuple[str, str], set[str]] = {}
    for sample in scrape.samples:
        for label, value in sample.labels.items():
            if label != "le":
                found.setdefault((sample.name, label), set()).add(value)
    return found


def dashboard_metrics() -> dict[str, set[str]]:
    """Each panel's title → the metric names its queries use."""
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/recast.json").read_text())
    found = {}
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            continue
        exprs = " ".join(target["expr"] for target in panel["targets"])
        found[panel["title"]] = set(re.findall(r"\b(?:recast|temporal)_[a-z0-9_]+\b", exprs))
    return found


def test_every_dashboard_metric_is_exposed(
    metered: Metered, clips: dict[str, Path], receiver: Receiver
) -> None:
    # After real jobs of every kind the panels show (the tests above ran some: these let it stand alone).
    api = metered.unlimited
    before = Scrape.of(metered.worker_metrics)
    good = api.upload(clips["small"], [MP4], webhook_url=receiver.url)
    assert good.status_code == 202, good.text
    api.wait(good.json()["id"], timeout=240)
    api.wait(api.submit(clips["notmedia"], [MP4])["id"], timeout=240)
    # A silent clip: the mp4 is made, the mp3 fails on its own (`no-audio-stream`).
    partial = api.wait(api.submit(clips["silent"], [MP4, {"type": "mp3"}])["id"], timeout=240)
    assert partial["status"] == "partial", partial
    wait_until(
        lambda: (
            # At least: jobs an earlier test left behind (had it failed) may end meanwhile.
            delta(before, Scrape.of(metered.worker_metrics), "recast_jobs_finished_total") >= 3
            and Scrape.of(metered.worker_metrics).value(
                "recast_webhook_deliveries_total", outcome="delivered"
            )
            > 0
        ),
        "the jobs and a webhook delivery counted",
    )
    refused = httpx.post(f"{api.base_url}/v1/jobs", json={"outputs": [MP4]})  # no key: a rejection
    assert refused.status_code == 401
    exposed = Scrape.of(metered.worker_metrics).names() | Scrape.of(f"{api.base_url}/metrics").names()
    panels = dashboard_metrics()
    assert len(panels) >= 6
    for title, names in panels.items():
        assert names, f"panel {title!r} queries no Recast or Temporal metric"
        assert names <= exposed, f"panel {title!r} queries metrics nobody exposes: {sorted(names - exposed)}"

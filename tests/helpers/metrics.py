"""Reading a Prometheus endpoint the way Prometheus does: scrape the text format and parse it with
prometheus_client's parser, then add up the samples of one name whose labels include the given ones."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Scrape:
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    @classmethod
    def of(cls, url: str) -> Scrape:
        resp = httpx.get(url, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/plain"), resp.headers
        return cls(
            [
                Sample(s.name, dict(s.labels), s.value)
                for family in text_string_to_metric_families(resp.text)
                for s in family.samples
            ]
        )

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def series(self) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        """Every series: a sample name and its labels."""
        return {(s.name, tuple(sorted(s.labels.items()))) for s in self.samples}


def delta(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)

"""Metric catalogues and the collectors built from them.

A catalogue (``name -> MetricSpec``) names every metric a collector exposes, with
its type and help text; ``describe`` yields it, so the names are known to the
registry, docs and dashboard tests before any data arrives. A collector fills
fresh families from one snapshot per scrape (the style of ``prometheus_client``'s
``gc_collector``), so the exposed label sets are exactly the current state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    class Family(Metric):
        """A metric family as a collector fills it: ``add_metric`` takes a value for
        counters and gauges, buckets and a sum for histograms (the spec's kind decides)."""

        def add_metric(self, *args: Any, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class MetricSpec:
    name: str  # exposed name; counters include their _total suffix
    kind: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...] = ()

    @property
    def family_name(self) -> str:
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


def catalogue(specs: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    return {s.name: s for s in specs}


def family(spec: MetricSpec, labels: tuple[str, ...] | None = None) -> Family:
    labels = spec.labels if labels is None else labels
    made: Metric
    if spec.kind == "counter":
        made = CounterMetricFamily(spec.family_name, spec.help, labels=labels)
    elif spec.kind == "histogram":
        made = HistogramMetricFamily(spec.family_name, spec.help, labels=labels, unit="")
    else:
        made = GaugeMetricFamily(spec.family_name, spec.help, labels=labels)
    return cast("Family", made)


class CatalogueCollector(Collector):
    """A collector of the metrics in ``specs``; registers itself on ``registry`` when given
    one. Subclasses implement ``collect``."""

    specs: Mapping[str, MetricSpec] = {}

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        for spec in self.specs.values():
            yield family(spec)

    def families(self) -> dict[str, Family]:
        """A fresh, empty family of every metric, for one scrape."""
        return {name: family(spec) for name, spec in self.specs.items()}

"""The service's Prometheus metrics, in a registry of its own (one per app, no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Batch-size buckets (items per model call).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Counters, gauges and histograms of one service instance.

    ``requests`` (route, status), ``latency`` seconds (route, status), ``batch_items`` per model
    call (stage), ``model_calls`` and ``items`` (stage), ``queued`` items admitted and not
    finished (stage), ``in_flight`` requests being served, ``refused`` requests turned away before any work (reason).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("latentatlas_requests", "HTTP requests answered", ["route", "status"], registry=r)
        self.latency = Histogram("latentatlas_request_seconds", "request latency in the server", ["route", "status"],
                                 registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.batch_items = Histogram("latentatlas_batch_items", "items per model call", ["stage"], registry=r,
                                     buckets=BATCH_BUCKETS)
        self.model_calls = Counter("latentatlas_model_calls", "model calls", ["stage"], registry=r)
        self.items = Counter("latentatlas_items", "items computed", ["stage"], registry=r)
        self.queued = Gauge("latentatlas_queued_items", "items admitted and not finished", ["stage"], registry=r)
        self.refused = Counter("latentatlas_refused", "requests refused before any work", ["reason"], registry=r)
        self.in_flight = Gauge("latentatlas_requests_in_flight", "/v1 requests received and not answered", registry=r)
        self.dropped = Counter("latentatlas_deadline_dropped_items", "items dropped at their deadline", ["stage"],
                               registry=r)

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

"""metrics-exporter: turns Spark progress, trends and alerts into Prometheus metrics.

The processor's ``StreamingQueryListener`` posts every ``StreamingQueryProgress``
to ``POST /v1/progress``; the hashtags job posts its top-N rows to
``POST /v1/trends``; background pollers read alerts from the alerting service
and ground-truth labels from the txn-simulator's ``labels`` feed to compute live
precision and recall. Everything is served on ``GET /metrics`` by one custom
collector whose label sets are exactly the current state.
"""

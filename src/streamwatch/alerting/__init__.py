"""Alerting service: an idempotent alert store and signed webhooks.

Alerts arrive in batches from the Spark processor (``POST /v1/alerts``) and are
stored once per ``alert_id``; every stored alert is fanned out, in the same
database transaction, to one outbox row per matching webhook subscription.
Delivery workers send the outbox as Standard Webhooks (signed with each
subscription's ``whsec_`` secret) with a persisted retry schedule.

Modules: ``config`` (settings), ``store`` (SQLite / PostgreSQL), ``delivery``
(outbox workers), ``signing``, ``ssrf``, ``schedule``, ``api`` (HTTP routes),
``openapi``, ``app`` (the Flask factory), ``cli`` and ``wsgi`` (entry points).
"""

"""Orchestration behind ``streamwatch run``."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
import time

import requests
from rich.console import Console
from rich.live import Live

from streamwatch.core import logs
from streamwatch.core.http import port_in_use_message
from streamwatch.core.java import JavaNotFound, find_java_home
from streamwatch.launcher.settings import PORTS, RunSettings
from streamwatch.launcher.status import Endpoints, StatusReader
from streamwatch.launcher.supervisor import Child, Supervisor, port_free, streamwatch_argv
from streamwatch.launcher.view import log_snapshot, render

log = logging.getLogger("streamwatch.run")
HOST = "127.0.0.1"


def _reveal(label: str, secret: str) -> None:
    """Show a secret to the person at the terminal: stdout only, never the log stream."""
    print(f"streamwatch run: {label}: {secret}", flush=True)


class StartupError(RuntimeError):
    """A problem the user must fix before ``streamwatch run`` can start."""


class Launcher:
    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.console = Console(stderr=False)
        self.supervisor = Supervisor()
        self.stop_event = threading.Event()
        self.endpoints = Endpoints(
            tweets=f"http://{HOST}:{settings.tweets_port}",
            txns=f"http://{HOST}:{settings.txns_port}",
            alerting=f"http://{HOST}:{settings.alerting_port}",
            exporter=f"http://{HOST}:{settings.exporter_port}",
            orders=f"http://{HOST}:{settings.orders_port}")
        self.spark: Child | None = None

    # -- checks -----------------------------------------------------------------------------
    def _check(self) -> None:
        s = self.settings
        for name in PORTS:  # RunSettings.validate refused two services on one port
            number = getattr(s, name)
            if not port_free(HOST, number):
                # an earlier `streamwatch run` is the usual holder
                raise StartupError(port_in_use_message(
                    HOST, number, f"{s.flag(name)} N (env {s.env(name)}); an earlier "
                    "`streamwatch run` may still be running"))
        if not self.settings.no_spark:
            try:
                find_java_home(17)
            except JavaNotFound as exc:
                raise StartupError(f"{exc} (or run `streamwatch run --no-spark` to start the "
                                   f"services without the Spark jobs)") from None

    # -- start ------------------------------------------------------------------------------
    def _start_services(self, admin_token: str, ingest_token: str) -> None:
        a, d = self.settings, str(self.data_dir)
        seed = [] if a.seed is None else ["--seed", str(a.seed)]
        if a.new_world:
            seed.append("--new-world")
        logs_dir = self.data_dir / "logs"
        # the processor posts alerts, progress and trends with the ingest token
        ingest_env = {"STREAMWATCH_INGEST_TOKEN": ingest_token}
        common_env = {"STREAMWATCH_ADMIN_TOKEN": admin_token,
                      "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1", **ingest_env}
        children = [
            Child("tweet-ingester", streamwatch_argv(
                "tweets", "--rate", str(a.tweet_rate), *seed, "--http-port", str(a.tweets_port),
                "--socket-port", str(a.tweets_socket_port), "--data-dir", d),
                logs_dir / "tweet-ingester.log", f"{self.endpoints.tweets}/readyz"),
            Child("txn-simulator", streamwatch_argv(
                "txns", "--rate", str(a.txn_rate), *seed, "--http-port", str(a.txns_port),
                "--socket-port", str(a.txns_socket_port), "--data-dir", d),
                logs_dir / "txn-simulator.log", f"{self.endpoints.txns}/readyz"),
            # a few resends and some disorder, so the run shows them counted exactly
            Child("order-simulator", streamwatch_argv(
                "orders", "--rate", str(a.order_rate), *seed, "--duplicate-rate", "0.01",
                "--disorder", "2s", "--http-port", str(a.orders_port),
                "--socket-port", str(a.orders_socket_port), "--data-dir", d),
                logs_dir / "order-simulator.log", f"{self.endpoints.orders}/readyz"),
            Child("alerting", streamwatch_argv(
                "alerting", "--port", str(a.alerting_port), "--data-dir", d),
                logs_dir / "alerting.log", f"{self.endpoints.alerting}/readyz", env=common_env),
            Child("metrics-exporter", streamwatch_argv(
                "exporter", "--port", str(a.exporter_port),
                "--alerting-url", self.endpoints.alerting,
                "--labels-url", f"{self.endpoints.txns}/v1/feeds/labels"),
                logs_dir / "metrics-exporter.log", f"{self.endpoints.exporter}/readyz",
                env=ingest_env),
        ]
        for child in children:
            self._say(f"starting {child.name} …")
            self.supervisor.start(child)
        if not a.no_spark:
            self._say("starting the Spark jobs (hashtags, fraud, orders) in one local "
                      "session …")
            self.spark = Child("spark", [
                sys.executable, "-m", "streamwatch.launcher.spark_jobs",
                "--data-dir", d, "--master", a.master, "--trigger", a.trigger,
                "--tweets-url", self.endpoints.tweets, "--txns-url", self.endpoints.txns,
                "--orders-url", str(self.endpoints.orders),
                "--alerting-url", self.endpoints.alerting,
                "--exporter-url", self.endpoints.exporter,
                "--trend-window", a.trend_window, "--trend-slide", a.trend_slide,
                "--trend-watermark", a.trend_watermark,
                "--sentiment-window", a.sentiment_window,
                "--orders-watermark", a.orders_watermark,
            ], logs_dir / "spark.log", env=ingest_env)
            self.supervisor.start(self.spark)

    def _subscribe(self, url: str, admin_token: str) -> None:
        """Subscribe ``url``, or keep the subscription an earlier run on this data directory
        made for it: a second one would deliver every alert to the receiver twice."""
        api = f"{self.endpoints.alerting}/v1/subscriptions"
        auth = {"Authorization": f"Bearer {admin_token}"}
        r = requests.get(api, headers=auth, timeout=10)
        if r.status_code != 200:
            raise StartupError(f"could not list the webhook subscriptions: HTTP "
                               f"{r.status_code} {r.text}")
        existing = next((s for s in r.json()["subscriptions"] if s["url"] == url), None)
        if existing is not None:
            if not existing["enabled"]:
                e = requests.post(f"{api}/{existing['id']}/enable", headers=auth, timeout=10)
                if e.status_code != 200:
                    raise StartupError(f"could not re-enable subscription {existing['id']}: "
                                       f"HTTP {e.status_code} {e.text}")
            self._say(f"webhook subscription {existing['id']} → {url} (kept from an earlier "
                      f"run: its secret was shown then; POST {api}/{existing['id']}/"
                      "rotate-secret issues a new one)")
            return
        r = requests.post(api, json={"url": url, "description": "streamwatch run --webhook"},
                          headers=auth, timeout=10)
        if r.status_code != 201:
            raise StartupError(f"could not subscribe {url}: HTTP {r.status_code} {r.text}")
        sub = r.json()
        self._say(f"webhook subscription {sub['id']} → {url}")
        _reveal("webhook secret (shown once, verify signatures with it)", sub["secret"])

    # -- loop -------------------------------------------------------------------------------
    def _say(self, message: str) -> None:
        if self.settings.headless:
            log.info(message)
        else:
            self.console.print(f"[bold cyan]streamwatch[/] {message}")

    def _spark_alive(self) -> bool | None:
        return None if self.spark is None else self.spark.alive

    def _watch(self) -> int:
        reader = StatusReader(self.endpoints)
        duration = self.settings.duration
        deadline = None if duration is None else time.monotonic() + duration
        footer = (f"dashboard: {self.endpoints.exporter}/   data: {self.data_dir}   "
                  f"logs: {self.data_dir / 'logs'}   "
                  f"alerts: {self.endpoints.alerting}/v1/alerts")
        self._say(f"live dashboard: open {self.endpoints.exporter}/ in a browser")
        last_log = 0.0
        live = None if self.settings.headless else Live(console=self.console, auto_refresh=False,
                                                    screen=False)
        try:
            if live is not None:
                live.start()
            while not self.stop_event.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    self._say("duration reached, stopping")
                    return 0
                dead = self.supervisor.dead()
                if dead:
                    for child in dead:
                        code = child.proc.returncode if child.proc else "?"
                        log.error("child exited", extra={"child": child.name, "code": code,
                                                         "log_tail": child.tail()})
                        self.console.print(f"[red]{child.name} exited with code {code}[/]; "
                                           f"last lines of {child.log_path}:\n{child.tail()}")
                    return 1
                snap = reader.read()
                if live is not None:
                    live.update(render(snap, spark_alive=self._spark_alive(), footer=footer),
                                refresh=True)
                elif time.monotonic() - last_log >= 5:
                    log_snapshot(snap, spark_alive=self._spark_alive())
                    last_log = time.monotonic()
                self.stop_event.wait(self.settings.refresh)
            return 0
        finally:
            if live is not None:
                live.stop()

    def run(self) -> int:
        logs.setup("streamwatch-run")
        try:
            self._check()
        except StartupError as exc:
            print(f"streamwatch run: {exc}", file=sys.stderr)
            return 2
        self.data_dir.mkdir(parents=True, exist_ok=True)
        admin_token = os.environ.get("STREAMWATCH_ADMIN_TOKEN") or ""
        if not admin_token:
            admin_token = secrets.token_urlsafe(24)
            _reveal("admin token for the alerting API (generated, shown once)", admin_token)
        # Only the processor needs the ingest token, and it gets it from here; a
        # generated one is not shown (export STREAMWATCH_INGEST_TOKEN to post by hand).
        ingest_token = os.environ.get("STREAMWATCH_INGEST_TOKEN") or secrets.token_urlsafe(24)

        def on_signal(signum: int, _frame: object) -> None:
            self.stop_event.set()

        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, on_signal)
        try:
            self._start_services(admin_token, ingest_token)
            if self.settings.webhook:
                self._subscribe(self.settings.webhook, admin_token)
            return self._watch()
        except (StartupError, RuntimeError) as exc:
            print(f"streamwatch run: {exc}", file=sys.stderr)
            return 1
        finally:
            self._say("stopping all services …")
            self.supervisor.stop_all()

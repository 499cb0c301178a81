"""The flags `streamwatch run` hands its Spark jobs parse as each job's own command line."""

from __future__ import annotations

import argparse
import dataclasses

from streamwatch.cli import build_parser
from streamwatch.launcher.settings import RunSettings
from streamwatch.launcher.spark_jobs import job_argvs
from streamwatch.processor.cli import job_args


def run_defaults(*argv: str) -> argparse.Namespace:
    """What the launcher hands ``spark_jobs``: its settings as text, and the services' URLs."""
    settings = RunSettings.from_args(build_parser("run").parse_args(["run", *argv]), {})
    return argparse.Namespace(
        **{k: str(v) for k, v in dataclasses.asdict(settings).items()},
        tweets_url="http://127.0.0.1:1", txns_url="http://127.0.0.1:2",
        orders_url="http://127.0.0.1:3", alerting_url="http://127.0.0.1:4",
        exporter_url="http://127.0.0.1:5")


def test_every_job_parses_the_flags_the_run_gives_it() -> None:
    argvs = job_argvs(run_defaults())
    assert set(argvs) == {"hashtags", "fraud", "orders"}
    for job, argv in argvs.items():
        assert job_args(job, argv).job == job


def test_the_embedded_sentiment_line_gets_a_point_a_minute() -> None:
    """The job's own default is a 15 min window: one dot on the dashboard for a quarter hour."""
    hashtags = job_args("hashtags", job_argvs(run_defaults())["hashtags"])
    assert hashtags.sentiment_window == 60
    assert job_args("hashtags", job_argvs(run_defaults("--sentiment-window", "5m"))[
        "hashtags"]).sentiment_window == 300

"""The Spark side of ``streamwatch run``: hashtags, fraud and orders in ONE local session.

Run by the launcher as a child process (``python -m streamwatch.launcher.spark_jobs``)
so that the live view stays responsive and Spark's JVM dies with its process.
The jobs take exactly the flags ``streamwatch process`` would give them, with
checkpoints under ``<data-dir>/checkpoints/<job>`` so a second start resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def job_argvs(args: argparse.Namespace) -> dict[str, list[str]]:
    out = str(Path(args.data_dir) / "output")
    common = ["--data-dir", args.data_dir, "--trigger", args.trigger, "--master", args.master,
              "--exporter-url", args.exporter_url]
    return {
        "hashtags": [*common, "--source", f"feed:{args.tweets_url}/tweets",
                     "--sink", f"jsonl:{out}/hashtags", "--window", args.trend_window,
                     "--slide", args.trend_slide, "--watermark", args.trend_watermark,
                     "--sentiment-window", args.sentiment_window],
        "fraud": [*common, "--source", f"feed:{args.txns_url}/transactions",
                  "--sink", f"http:{args.alerting_url}/v1/alerts"],
        "orders": [*common, "--source", f"feed:{args.orders_url}/orders",
                   "--sink", f"jsonl:{out}/orders", "--watermark", args.orders_watermark],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamwatch.launcher.spark_jobs")
    for flag in ("--data-dir", "--master", "--trigger", "--tweets-url", "--txns-url",
                 "--orders-url", "--alerting-url", "--exporter-url", "--trend-window",
                 "--trend-slide", "--trend-watermark", "--sentiment-window",
                 "--orders-watermark"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args(argv)

    import logging

    from streamwatch.core import logs
    from streamwatch.processor.cli import job_args, run_jobs

    logs.setup("processor")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    jobs = [job_args(job, argv_) for job, argv_ in job_argvs(args).items()]
    return run_jobs(jobs, master=args.master, app_name="streamwatch-run",
                    exporter_url=args.exporter_url)


if __name__ == "__main__":
    raise SystemExit(main())

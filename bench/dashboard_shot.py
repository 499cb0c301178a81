"""The README's screenshot: the web dashboard of a running stack once every panel shows data.

    streamwatch run --headless &          # or any running exporter
    python -m bench.dashboard_shot http://127.0.0.1:7104/ docs/img/dashboard.png

It waits (up to ``--timeout``) until each panel's ``data-state`` is ``data``: the orders
panel only fills when the first event-time minute is final (its watermark has passed),
a few minutes into a fresh run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.chromium import Chromium, ChromiumError

PANELS = ("trends", "sentiment", "orders", "fraud", "health")
LAPTOP = (1440, 860)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_shot",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the exporter's page, e.g. http://127.0.0.1:7104/")
    parser.add_argument("out", type=Path, help="where to write the PNG")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for data in every panel (default 600)")
    args = parser.parse_args(argv)
    with Chromium() as browser:
        page = browser.open(args.url, width=LAPTOP[0], height=LAPTOP[1])
        try:
            for panel in PANELS:
                page.wait_for(f"document.getElementById('panel-{panel}').dataset.state"
                              " === 'data'", timeout=args.timeout,
                              interval=1.0)
        except ChromiumError as exc:
            states = page.evaluate("Array.from(document.querySelectorAll('.panel'), "
                                   "p => p.id + '=' + p.dataset.state).join(' ')")
            print(f"dashboard_shot: not every panel has data ({states}): {exc}",
                  file=sys.stderr)
            return 1
        args.out.write_bytes(page.screenshot())
    print(f"dashboard_shot: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

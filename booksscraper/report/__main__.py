"""``python -m booksscraper.report [OUTPUT_DIR]``: build the crawl report (see the package)."""

from __future__ import annotations

import argparse
import sys

from booksscraper.report import build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booksscraper.report",
        description="Markdown report with charts of a finished crawl.",
    )
    parser.add_argument("output_dir", nargs="?", default="output", help="the crawl's OUTPUT_DIR")
    parser.add_argument("--stats-file", default="stats.json", help="STATS_FILE of the crawl")
    parser.add_argument("--monitor-file", default="monitor.jsonl", help="MONITOR_FILE of the crawl")
    args = parser.parse_args(argv)
    try:
        report = build_report(
            args.output_dir, stats_file=args.stats_file, monitor_file=args.monitor_file
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make crawl`: the main job against the offline sandbox, with a one-line summary.

Starts the sandbox on a free loopback port, runs ``scrapy crawl books`` against
it (a real crawl over real sockets), stops the sandbox, checks the output with
the sandbox's ground truth and prints where the output is.

    python -m booksscraper.tools.sandbox_crawl [--books N] [--seed S] [--output-dir D]
        [-- more scrapy crawl arguments]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from booksscraper.output.jsonlines import iter_json_lines
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is under it (``.venv/bin/python``)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _count_lines(path: Path) -> int:
    return sum(1 for _ in iter_json_lines(path)) if path.exists() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make crawl", description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1000, help="catalogue size [1000]")
    parser.add_argument("--seed", type=int, default=1, help="catalogue seed [1]")
    parser.add_argument("--output-dir", type=Path, default=Path("output"), help="[output]")
    parser.add_argument("scrapy_args", nargs="*", help="more `scrapy crawl` arguments")
    args = parser.parse_args(argv)

    out = args.output_dir
    with running_sandbox(books=args.books, seed=args.seed) as sandbox:
        command = [
            sys.executable, "-m", "scrapy", "crawl", "books",
            "-a", f"start_url={sandbox.base_url}",
            "-s", f"OUTPUT_DIR={out}",
            *args.scrapy_args,
        ]
        print("$", shlex.join([shown_path(sys.executable), *command[1:]]), flush=True)
        started = time.monotonic()
        status = subprocess.call(command)
        elapsed = time.monotonic() - started
        truth = sandbox.truth()

    json_path = out / "books.json"
    if status != 0 or not json_path.exists():
        print(f"crawl failed (exit {status}); see the log above", file=sys.stderr)
        return status or 1
    books = json.loads(json_path.read_text(encoding="utf-8"))
    problems = differences(books, truth)
    rejects, failures = _count_lines(out / "rejects.jsonl"), _count_lines(out / "failures.jsonl")
    verdict = "matches the ground truth" if not problems else "DIFFERS from the ground truth"
    print(
        f"{len(books)} books in {elapsed:.1f} s -> {json_path} "
        f"({rejects} rejected, {failures} failed; {verdict} of {len(truth)} books)"
    )
    for problem in problems:
        print("  " + problem)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())

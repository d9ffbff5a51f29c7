"""Merge the workers' outputs into one JSON array, each book once (by UPC).

    python -m booksscraper.cluster.merge [--state-dir DIR] OUT.json WORKER_DIR [WORKER_DIR ...]

Reads each worker's ``books.jsonl`` (its crash-safe output, so a worker killed
mid-crawl still counts), skips torn lines, keeps the first record of each UPC,
and writes ``OUT.json`` atomically. Exits 2 when a directory has no
``books.jsonl``; exits 3 naming the shortfall when the merged books are fewer than the
site announced (``announced_books``).

An incremental cluster crawl (the default) is compared here, once for all the workers,
with the state in ``--state-dir`` (``booksscraper.incremental.cluster``): ``changes.jsonl``
beside ``OUT.json``, the summary line printed, the state advanced. The merge writes only
where it is told: without ``--state-dir`` it compares nothing and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from booksscraper.config.declared import default
from booksscraper.ledger.figures import ANNOUNCED, FAILED, REJECTED, SHORT_LISTINGS
from booksscraper.pipelines.export import write_json_array

JSONL_NAME = "books.jsonl"
EXIT_INCOMPLETE = 3  # as a crawl whose monitors failed (README "Exit status")


def merge(out_path: os.PathLike[str] | str, worker_dirs: Sequence[os.PathLike[str] | str]) -> int:
    """Write the unique books of all workers to ``out_path``; returns how many."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # write_json_array dedups by UPC from one JSON lines file: concatenate first.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=out.parent, prefix=".merge-", suffix=".jsonl", delete=False
    ) as combined:
        for directory in worker_dirs:
            if not (Path(directory) / JSONL_NAME).exists() and _incremental_only(directory):
                continue  # a worker that exported no book, yet has its part in the comparison
            with open(Path(directory) / JSONL_NAME, encoding="utf-8") as f:
                for line in f:
                    combined.write(line if line.endswith("\n") else line + "\n")
    try:
        return write_json_array(combined.name, out)
    finally:
        os.unlink(combined.name)


def _incremental_only(directory: os.PathLike[str] | str) -> bool:
    from booksscraper.incremental.cluster import WORKER_FILE

    return (Path(directory) / WORKER_FILE).is_file()


def workers_stats(worker_dirs: Sequence[os.PathLike[str] | str]) -> list[dict[str, Any]]:
    """The workers' final stats (``STATS_FILE``); a worker killed before its end has none."""
    found = []
    for directory in worker_dirs:
        try:
            stats = json.loads((Path(directory) / default("STATS_FILE")).read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(stats, dict):
            found.append(stats)
    return found


def announced_books(worker_dirs: Sequence[os.PathLike[str] | str]) -> int | None:
    """How many books the site announced, as the workers' ledgers recorded it; None if none did.

    The one place the merge learns the whole: the largest ``ledger/announced`` (the worker
    that read the start page).
    """
    return _announced(workers_stats(worker_dirs))


def _announced(ledgers: Sequence[dict[str, Any]]) -> int | None:
    announced = [stats[ANNOUNCED] for stats in ledgers if isinstance(stats.get(ANNOUNCED), int)]
    return max(announced, default=None)


def shortfall(count: int, worker_dirs: Sequence[os.PathLike[str] | str]) -> str | None:
    """Why ``count`` merged books are not the whole crawl, or None when they are."""
    ledgers = workers_stats(worker_dirs)
    announced = _announced(ledgers)
    if announced is None or count >= announced:
        return None
    short = [entry for stats in ledgers
             for entry in stats.get(SHORT_LISTINGS) or () if isinstance(entry, dict)]
    pages = "".join(f"; {entry.get('url')} shows {entry.get('found')} of {entry.get('expected')}"
                    for entry in short[:3])
    return (f"the cluster crawl is incomplete: {count} of the {announced} books the site "
            f"announced ({announced - count} missing{pages}; see the workers' logs and failures "
            "files)")


def unaccounted(count: int, worker_dirs: Sequence[os.PathLike[str] | str]) -> int:
    """Books announced that are neither merged nor named lost (rejected, failed) by a worker.

    A worker's failed requests count, not its ``failed_books``: a worker knows as books only
    the ones it listed, and its peers list most of the book pages it fetches."""
    ledgers = workers_stats(worker_dirs)
    announced = _announced(ledgers)
    if announced is None:
        return 0
    named = sum(int(stats.get(REJECTED) or 0) + int(stats.get(FAILED) or 0)
                for stats in ledgers)
    return max(0, announced - count - named)


def merge_and_compare(
    out_path: os.PathLike[str] | str,
    worker_dirs: Sequence[os.PathLike[str] | str],
    state_dir: os.PathLike[str] | str,
) -> tuple[int, str | None]:
    """``merge``, then what changed since the previous cluster crawl: (books, summary line).

    ``state_dir``: the incremental state compared with, and advanced.
    The state advances only when every worker finished (``compare_workers``: a worker that
    lost Redis or whose crawl vanished from it never closes "finished") and every book the
    site announced is merged or named lost (``unaccounted``); a book named lost keeps its last
    known values in the state.
    """
    from booksscraper.incremental.cluster import compare_workers

    count = merge(out_path, worker_dirs)
    result = compare_workers(Path(out_path).parent, [Path(d) for d in worker_dirs],
                             Path(state_dir), complete=not unaccounted(count, worker_dirs))
    if result is None:  # INCREMENTAL=False on the workers
        return count, None
    if isinstance(result, str):
        return count, f"Changes since the last crawl: {result}"
    changes = Path(out_path).parent / "changes.jsonl"
    return count, f"Changes since the last crawl: {result.summary} -> {changes}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booksscraper.cluster.merge", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--state-dir", type=Path,
                        help="the incremental state to compare with and advance "
                             "(e.g. out/incremental); none: nothing is compared")
    parser.add_argument("out", help="the merged JSON array to write")
    parser.add_argument("worker_dirs", nargs="+", help="the workers' OUTPUT_DIRs")
    args = parser.parse_args(argv)
    missing = [d for d in args.worker_dirs
               if not (Path(d) / JSONL_NAME).is_file() and not _incremental_only(d)]
    if missing:
        print(f"error: no {JSONL_NAME} in {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.state_dir is not None:
        count, changes = merge_and_compare(args.out, args.worker_dirs, args.state_dir)
    else:
        count = merge(args.out, args.worker_dirs)
        incremental = any(_incremental_only(d) for d in args.worker_dirs)
        changes = ("Changes since the last crawl: not compared (no --state-dir)"
                   if incremental else None)
    print(f"merged {count} books from {len(args.worker_dirs)} workers into {args.out}")
    if changes:
        print(changes)
    if not count:
        print("error: the cluster crawl exported no book (see the workers' failures and rejects "
              "files)", file=sys.stderr)
        return 1
    missing = shortfall(count, args.worker_dirs)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make cluster`: a local cluster against the sandbox, end to end.

Starts Debian's redis-server (free loopback port, not daemonized, temp dir,
no persistence), the sandbox, and N workers (``scrapy crawl books`` with
``REDIS_URL``, each its own OUTPUT_DIR and log), waits for them, merges their
outputs, checks the merge against the sandbox's ground truth, and stops
everything by PID.

    python -m booksscraper.tools.cluster_run [--workers 3] [--books 1000]
        [--output-dir output/cluster] [--max-rps 0] [-- more scrapy crawl arguments]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from booksscraper.cluster.merge import merge_and_compare
from booksscraper.incremental.cluster import WORKER_FILE
from booksscraper.incremental.state import STATE_DIR
from booksscraper.records.credentials import SECRET_ENV_PREFIX
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.redis_server import running_redis
from booksscraper.tools.truth import differences

REPO = Path(__file__).resolve().parents[2]


def start_worker(
    redis_url: str, start_url: str, out_dir: Path, *scrapy_args: str
) -> subprocess.Popen[bytes]:
    """One cluster worker: `scrapy crawl books`; its log is OUT_DIR/crawl.log.

    The Redis URL goes in the environment (``$BOOKS_REDIS_URL``), never on the command line.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "scrapy", "crawl", "books",
        "-a", f"start_url={start_url}",
        "-s", f"OUTPUT_DIR={out_dir}",
        "-s", f"LOG_FILE={out_dir / 'crawl.log'}",
        *scrapy_args,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env[SECRET_ENV_PREFIX + "REDIS_URL"] = redis_url
    return subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL)


def worker_folders(out: Path, workers: int) -> list[Path]:
    """``out/worker-1`` ... ``worker-N``; those of a larger earlier run are removed (the merge
    reads this run's workers only)."""
    folders = [out / f"worker-{i + 1}" for i in range(workers)]
    for stale in set(out.glob("worker-*")) - set(folders):
        shutil.rmtree(stale)
    return folders


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="worker processes [3]")
    parser.add_argument("--books", type=int, default=1000, help="catalogue size [1000]")
    parser.add_argument("--seed", type=int, default=1, help="catalogue seed [1]")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="sandbox latency [0]")
    parser.add_argument("--max-rps", type=float, default=0.0,
                        help="CLUSTER_MAX_RPS_PER_DOMAIN, 0 = off [0]")
    parser.add_argument("--output-dir", type=Path, default=Path("output/cluster"),
                        help="[output/cluster]")
    parser.add_argument("scrapy_args", nargs="*", help="more `scrapy crawl` arguments")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    out = args.output_dir.resolve()
    worker_dirs = worker_folders(out, args.workers)
    extra = list(args.scrapy_args)
    if args.max_rps:
        extra += ["-s", f"CLUSTER_MAX_RPS_PER_DOMAIN={args.max_rps}"]
    with running_redis() as redis_server, running_sandbox(
        books=args.books, seed=args.seed, latency_ms=args.latency_ms
    ) as sandbox:
        print(f"redis-server pid {redis_server.pid} at {redis_server.url}; "
              f"sandbox pid {sandbox.pid} at {sandbox.base_url}", flush=True)
        started = time.monotonic()
        workers = [
            start_worker(redis_server.url, sandbox.base_url, d, *extra) for d in worker_dirs
        ]
        try:
            for proc, directory in zip(workers, worker_dirs, strict=True):
                proc.wait()
                print(f"worker pid {proc.pid} exited {proc.returncode} (log {directory}/crawl.log)")
        finally:
            for proc in workers:
                stop(proc)
        elapsed = time.monotonic() - started
        truth = sandbox.truth()
        peak = sandbox.stats()["peak_rps"]

    merged_path = out / "books.json"
    count, changes = merge_and_compare(
        merged_path,
        [d for d in worker_dirs if (d / "books.jsonl").exists() or (d / WORKER_FILE).exists()],
        out / STATE_DIR,
    )
    problems = differences(json.loads(merged_path.read_text(encoding="utf-8")), truth)
    verdict = "matches the ground truth" if not problems else "DIFFERS from the ground truth"
    print(f"{count} books from {args.workers} workers in {elapsed:.1f} s "
          f"(sandbox peak {peak} req/s) -> {merged_path}: {verdict}")
    for problem in problems:
        print("  " + problem)
    if changes:
        print(changes)
    failed = [p.returncode for p in workers if p.returncode != 0]
    return 1 if problems or failed else 0


if __name__ == "__main__":
    sys.exit(main())

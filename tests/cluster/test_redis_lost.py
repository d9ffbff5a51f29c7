"""Redis lost or emptied under a running cluster: real redis-server killed and restarted.

Every worker stops non-zero with one line (no traceback per poll), none closes "finished",
what they held is in their failures files, the merge exits 3 and the incremental state does
not advance, so the next crawl reports no false "new".
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from booksscraper.cluster.merge import main as merge_main
from booksscraper.output.jsonlines import read_json_lines
from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from booksscraper.tools.cluster_run import start_worker, stop
from booksscraper.tools.redis_server import RedisServer, start_redis
from tests.cluster.test_cluster_crawl import FAST_CLOSE
from tests.helpers import read_lines

LOST_TIMEOUT = 4.0
# Two requests at a time per worker, 50 ms a page: the crawl is still running when Redis goes.
SLOW = ("-s", "CONCURRENT_REQUESTS=2", "-s", f"CLUSTER_REDIS_LOST_TIMEOUT={LOST_TIMEOUT}")


def start_workers(redis: RedisServer, sb: RunningSandbox, dirs: list[Path]) -> list:
    return [start_worker(redis.url, sb.base_url, d, *FAST_CLOSE, *SLOW) for d in dirs]


def wait_for_books(directory: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(read_json_lines(directory / "books.jsonl")) < count:
        assert time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.05)


def kill(redis: RedisServer) -> None:
    redis.proc.send_signal(signal.SIGKILL)
    redis.proc.wait(10)


def wait_all(procs: list[subprocess.Popen[bytes]], timeout: float) -> list[int]:
    try:
        return [proc.wait(timeout) for proc in procs]
    finally:
        for proc in procs:
            stop(proc)


def merged(tmp_path: Path, dirs: list[Path], capsys: pytest.CaptureFixture[str]) -> tuple:
    merged_dir = tmp_path / "merged"
    code = merge_main(["--state-dir", str(merged_dir / "state"), str(merged_dir / "books.json"),
                       *map(str, dirs)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.timeout(120)
def test_redis_killed_every_worker_stops_within_the_bound(tmp_path: Path) -> None:
    dirs = [tmp_path / f"w{i}" for i in range(2)]
    redis = start_redis()
    try:
        with running_sandbox(books=300, seed=5, latency_ms=50) as sb:
            procs = start_workers(redis, sb, dirs)
            wait_for_books(dirs[0], 10)
            kill(redis)
            killed = time.monotonic()
            codes = wait_all(procs, timeout=60)
            stopped_after = time.monotonic() - killed
    finally:
        redis.stop()
    assert codes == [1, 1]
    # The bound, plus the time to close (downloads in flight, output files).
    assert stopped_after < LOST_TIMEOUT + 20, stopped_after
    for d in dirs:
        log = (d / "crawl.log").read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in log
        assert log.count("Redis lost") == 1, log[-3000:]
        assert log.count("Redis unreachable for") == 1
        assert "(redis_lost)" in log and "(finished)" not in log
        assert len(log.encode()) < 200_000  # bounded: not a traceback every poll
        # What the worker held and had not done when it gave up is written down.
        held = int(re.search(r"stopping this worker \((\d+) requests it held", log).group(1))
        lost = [f for f in read_lines(d / "failures.jsonl") if f["reason"] == "redis_lost"]
        assert len(lost) == held


@pytest.mark.timeout(200)
def test_redis_restarted_empty_is_not_the_end_of_the_crawl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redis = start_redis()
    try:
        with running_sandbox(books=150, seed=6, latency_ms=50) as sb:
            first = [tmp_path / "first" / f"w{i}" for i in range(2)]
            assert wait_all(start_workers(redis, sb, first), timeout=90) == [0, 0]
            code, said = merged(tmp_path, first, capsys)
            assert code == 0, said

            redis.proc.send_signal(signal.SIGKILL)
            redis.proc.wait(10)
            redis = start_redis(port=redis.port)  # a new crawl on a fresh Redis
            second = [tmp_path / "second" / f"w{i}" for i in range(2)]
            procs = start_workers(redis, sb, second)
            wait_for_books(second[0], 10)
            kill(redis)
            redis = start_redis(port=redis.port)  # back, empty
            assert wait_all(procs, timeout=60) == [1, 1]
            for d in second:
                log = (d / "crawl.log").read_text(encoding="utf-8", errors="replace")
                assert "(finished)" not in log and "(cluster_keys_vanished)" in log, log[-3000:]
                assert "Traceback" not in log
            code, said = merged(tmp_path, second, capsys)
            assert code == 3, said
            assert "the cluster crawl is incomplete" in said and "missing" in said

            redis.proc.send_signal(signal.SIGKILL)
            redis.proc.wait(10)
            redis = start_redis(port=redis.port)
            third = [tmp_path / "third" / f"w{i}" for i in range(2)]
            assert wait_all(start_workers(redis, sb, third), timeout=90) == [0, 0]
            code, said = merged(tmp_path, third, capsys)
    finally:
        redis.stop()
    assert code == 0, said
    # Compared with the first crawl, not the interrupted one: nothing new.
    assert "Changes since the last crawl: 0 new, 0 removed, 0 changed" in said, said

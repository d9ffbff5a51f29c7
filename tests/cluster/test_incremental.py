"""Incremental crawls on a cluster: two real workers, a real redis-server, the sandbox, run again.

The page cache is shared in Redis (every worker revalidates), the comparison is made once at
the merge step over every worker's books, failures and listing pages.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from booksscraper.cluster.merge import merge_and_compare
from booksscraper.incremental.cluster import WORKER_FILE, compare_workers
from booksscraper.output.jsonlines import dumps
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.redis_server import RedisServer
from tests.cluster.test_cluster_crawl import run_workers, stat
from tests.helpers import read_lines
from tests.incremental.test_incremental_crawl import assert_reported, truth_of_changes

# Two requests at a time per worker, 30 ms a page: one worker cannot take the whole
# catalogue before the other has started, even when most pages are a quick 304.
SPREAD = ("-s", "CONCURRENT_REQUESTS=2")


def pages(worker_dir: Path) -> int:
    return stat(worker_dir, "downloader/response_count")


def new_crawl_keys(client: redis.Redis) -> None:
    """Delete the finished crawl's keys (``books:*``), as docs/cluster.md says; the page
    cache (``incremental:books:*``) stays."""
    for key in client.scan_iter("books:*"):
        client.delete(key)


@pytest.fixture
def clean_redis(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """An empty database, emptied again after the test: the keys of a finished crawl would
    stop the next test's worker at preflight (tests using only ``redis_server`` share it)."""
    yield redis_client
    redis_client.flushdb()


@pytest.mark.timeout(300)
def test_two_workers_twice_report_exactly_the_changes_and_revalidate(
    redis_server: RedisServer, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    redis_client = clean_redis
    out = tmp_path / "merged"
    merged = out / "books.json"
    with running_sandbox(books=80, seed=21, latency_ms=30) as sb:
        runs = []
        for run in range(3):
            dirs = [tmp_path / f"run{run}" / f"w{i}" for i in range(2)]
            if run == 1:
                sb.configure(changes={"price": 3, "availability": 2, "rating": 1,
                                      "description": 1, "add": 2, "remove": 2, "seed": 5})
                truth = truth_of_changes(sb)
                gone = {c["url"] for c in truth}
                broken = [b["url"] for b in sb.truth() if b["url"] not in gone][:3]
                sb.configure(broken_paths={u.removeprefix(sb.base_url[:-1]): "500"
                                           for u in broken})
            if run == 2:
                sb.configure(broken_paths={})
            new_crawl_keys(redis_client)
            sb.reset()
            codes = run_workers(redis_server.url, sb.base_url, dirs, *SPREAD,
                                "-s", "RETRY_TIMES=1")
            # 3: the monitors flag the failed pages. A worker that got no page at all (the
            # other leased every request first, quick 304s) exits 0 too: the merge counts.
            assert all(code in (0, 3) for code in codes), codes
            count, line = merge_and_compare(merged, dirs, out / "incremental")
            report = tmp_path / f"report{run}"  # this crawl's changes.jsonl
            report.mkdir()
            if (out / "changes.jsonl").exists():
                shutil.copy(out / "changes.jsonl", report)
            runs.append((sb.stats(), dirs, count, line, report))

        first, second, third = runs
        assert first[2] == 80 and "no previous crawl" in first[3]
        assert not (first[4] / "changes.jsonl").exists()
        assert redis_client.keys("incremental:books:*")  # the shared page cache

        # The second crawl: exactly the 11 changes, the 3 failed pages not removed.
        assert len(truth) == 11
        stats, dirs, count, line, report = second
        assert count == 80 - 3
        assert line.startswith("Changes since the last crawl: 2 new, 2 removed, 7 changed: ")
        assert "3 not checked" in line, line
        failures = [f["url"] for d in dirs for f in read_lines(d / "failures.jsonl")]
        assert sorted(failures) == sorted(broken)
        changes = read_lines(report / "changes.jsonl")
        assert not {c["url"] for c in changes} & set(broken)
        assert_reported(report, truth)
        # Conditional requests from both workers: most pages a 304, a fraction of the bytes.
        assert stats["by_status"].get("304", 0) >= 60, stats["by_status"]
        assert stats["bytes_sent"] < 0.3 * first[0]["bytes_sent"]
        # Every worker that fetched pages revalidated them against the shared cache; each
        # revalidation (httpcache/revalidate, a 304 reused) is a 304 the server sent.
        assert all(stat(d, "httpcache/revalidate") > 0 for d in dirs if pages(d))
        assert sum(stat(d, "httpcache/revalidate") for d in dirs) == stats["by_status"]["304"]

        # The third: the failed books kept their last values in the state, so no change.
        stats, dirs, count, line, report = third
        assert count == 80
        assert line.startswith("Changes since the last crawl: 0 new, 0 removed, 0 changed")
        assert (report / "changes.jsonl").exists()
        assert read_lines(report / "changes.jsonl") == []
        assert len({b["upc"] for b in read_lines(out / "incremental" / "books.jsonl")}) == 80


def worker(directory: Path, books: list[dict], *, finish: str | None = "finished",
           listed: list[str] = ()) -> Path:
    """A worker's output folder as a crawl leaves it (``finish=None``: killed, no report)."""
    from booksscraper.dedup.keyset import key64

    directory.mkdir(parents=True)
    (directory / "books.jsonl").write_text("".join(dumps(b) + "\n" for b in books))
    if finish is not None:
        report = {"start_url": "http://s/", "finish_reason": finish, "listings_lost": 0,
                  "listed": [key64(u) for u in listed]}
        (directory / WORKER_FILE).write_text(json.dumps(report))
    return directory


def book(n: int, price: str = "1.00") -> dict:
    return {"upc": f"u{n}", "url": f"http://s/b{n}", "price": price}


def test_removed_only_when_every_worker_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = [worker(tmp_path / "a", [book(1), book(2)], listed=["http://s/b1", "http://s/b2"]),
             worker(tmp_path / "b", [book(3)], listed=["http://s/b3"])]
    assert "no previous crawl" in compare_workers(out, first)
    state = (out / "incremental" / "books.jsonl").read_bytes()

    # Book 3 is gone, book 1 changed; but worker b was killed: 3 is not said removed.
    killed = [worker(tmp_path / "c", [book(1, "2.00"), book(2)]),
              worker(tmp_path / "d", [], finish=None)]
    result = compare_workers(out, killed)
    assert (result.counts["changed"], result.counts["removed"]) == (1, 0)
    assert result.counts["unconfirmed"] == 1
    assert (out / "incremental" / "books.jsonl").read_bytes() == state  # not advanced

    # Both finished: now it is removed, and the state advances.
    done = [worker(tmp_path / "e", [book(1, "2.00"), book(2)], listed=["http://s/b1"]),
            worker(tmp_path / "f", [], listed=["http://s/b2"])]
    result = compare_workers(out, done)
    assert [(c["upc"], c["change"]) for c in read_lines(out / "changes.jsonl")] == [
        ("u1", "changed"), ("u3", "removed")]
    assert {b["upc"] for b in read_lines(out / "incremental" / "books.jsonl")} == {"u1", "u2"}

    # INCREMENTAL=False on the workers: no report file, no comparison, the state untouched.
    state = (out / "incremental" / "books.jsonl").read_bytes()
    plain = [worker(tmp_path / "g", [book(1)], finish=None)]
    assert compare_workers(out, plain) is None
    assert not (out / "changes.jsonl").exists()
    assert (out / "incremental" / "books.jsonl").read_bytes() == state


def test_the_merge_command_prints_the_summary_and_takes_a_worker_without_books(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from booksscraper.cluster.merge import main

    out = tmp_path / "out" / "books.json"
    first = [worker(tmp_path / "a", [book(1), book(2)], listed=["http://s/b1", "http://s/b2"])]
    state = ["--state-dir", str(out.parent / "incremental")]
    assert main([*state, str(out), *map(str, first)]) == 0
    # Book 2 was on the idle worker's listing page: not removed, yet not seen either.
    idle = worker(tmp_path / "c", [], listed=["http://s/b2"])
    (idle / "books.jsonl").unlink()  # it exported nothing: no books file, only its report
    assert main([*state, str(out), str(worker(tmp_path / "b", [book(1, "3.00")])),
                 str(idle)]) == 0
    printed = capsys.readouterr().out
    assert "Changes since the last crawl: 0 new, 0 removed, 1 changed: price 1; 1 not seen" \
        in printed
    assert json.loads(out.read_text()) == [book(1, "3.00")]


def test_the_merge_writes_no_state_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from booksscraper.cluster.merge import main

    out = tmp_path / "out" / "books.json"
    assert main([str(out), str(worker(tmp_path / "a", [book(1)], listed=["http://s/b1"]))]) == 0
    assert "Changes since the last crawl: not compared (no --state-dir)" in capsys.readouterr().out
    assert sorted(p.name for p in out.parent.iterdir()) == ["books.json"]

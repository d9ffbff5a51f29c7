"""The merge step, and one-line errors for bad cluster settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from booksscraper.cluster.merge import main, unaccounted
from booksscraper.tools.cluster_run import worker_folders
from booksscraper.tools.redis_server import RedisServer, free_port
from tests.helpers import REPO, run_crawl


def write_lines(directory: Path, records: list[dict], torn: str = "") -> Path:
    directory.mkdir(parents=True)
    text = "".join(json.dumps(r) + "\n" for r in records) + torn
    (directory / "books.jsonl").write_text(text, encoding="utf-8")
    return directory


def test_merge_keeps_each_upc_once_and_skips_torn_lines(tmp_path: Path, capsys) -> None:
    a = write_lines(tmp_path / "a", [{"upc": "1", "title": "A"}, {"upc": "2", "title": "B"}],
                    torn='{"upc": "3", "ti')  # a worker killed mid-write
    b = write_lines(tmp_path / "b", [{"upc": "2", "title": "B"}, {"upc": "4", "title": "D"}])
    out = tmp_path / "merged" / "books.json"
    assert main([str(out), str(a), str(b)]) == 0
    books = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(book["upc"] for book in books) == ["1", "2", "4"]
    assert "merged 3 books from 2 workers" in capsys.readouterr().out


def test_merge_refuses_a_directory_without_output(tmp_path: Path, capsys) -> None:
    a = write_lines(tmp_path / "a", [{"upc": "1"}])
    assert main([str(tmp_path / "out.json"), str(a), str(tmp_path / "missing")]) == 2
    assert "no books.jsonl in" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_merge_of_workers_without_a_single_book_is_an_error(tmp_path: Path, capsys) -> None:
    a, b = write_lines(tmp_path / "a", []), write_lines(tmp_path / "b", [])
    assert main([str(tmp_path / "out.json"), str(a), str(b)]) == 1
    assert "error: the cluster crawl exported no book" in capsys.readouterr().err


def test_merge_command_line(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a", [{"upc": "1"}])
    result = subprocess.run(
        [sys.executable, "-m", "booksscraper.cluster.merge", str(tmp_path / "o.json"), str(a)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "o.json").read_text()) == [{"upc": "1"}]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-s", "CLUSTER_MAX_RPS_PER_DOMAIN=5"),
         "error: CLUSTER_MAX_RPS_PER_DOMAIN: needs REDIS_URL"),
        (("-s", "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN=2"),
         "error: CLUSTER_MAX_CONCURRENCY_PER_DOMAIN: needs REDIS_URL"),
        (("-s", "REDIS_URL={redis}", "-s", "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN=1.5"),
         "error: CLUSTER_MAX_CONCURRENCY_PER_DOMAIN: expected an integer"),
        (("-s", "REDIS_URL={redis}", "-s", "CLUSTER_LEASE_SECONDS=0"),
         "error: CLUSTER_LEASE_SECONDS: must be >= 1"),
        (("-s", "REDIS_URL={redis}", "-s", "CLUSTER_MAX_RPS_PER_DOMAIN=fast"),
         "error: CLUSTER_MAX_RPS_PER_DOMAIN: expected a number"),
        (("-s", "REDIS_URL=redis://127.0.0.1:{closed_port}/0"),
         "error: REDIS_URL: cannot reach Redis"),
    ],
)
def test_bad_cluster_settings_are_one_line_errors(
    redis_server: RedisServer, sandbox, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    args = tuple(a.format(redis=redis_server.url, closed_port=free_port()) for a in args)
    result = run_crawl(sandbox.base_url, tmp_path, *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_merge_of_fewer_books_than_announced_exits_3_naming_the_shortfall(
    tmp_path: Path, capsys
) -> None:
    a = write_lines(tmp_path / "a", [{"upc": "1"}, {"upc": "2"}])
    b = write_lines(tmp_path / "b", [{"upc": "3"}])
    # The worker that read the first listing page recorded the site's "5 results".
    (a / "stats.json").write_text(json.dumps({"ledger/announced": 5}), encoding="utf-8")
    (b / "stats.json").write_text(json.dumps({"ledger/announced": 2}), encoding="utf-8")
    assert main([str(tmp_path / "out" / "books.json"), str(a), str(b)]) == 3
    err = capsys.readouterr().err
    assert "error: the cluster crawl is incomplete: 3 of the 5 books the site announced " \
        "(2 missing" in err


def test_books_neither_merged_nor_named_lost_are_unaccounted_and_named(
    tmp_path: Path, capsys
) -> None:
    """A short listing page's book is in no worker's files: the merge names the page, and
    counts only what no worker named (the failed book page is named in a failures file)."""
    a = write_lines(tmp_path / "a", [{"upc": "1"}, {"upc": "2"}])
    b = write_lines(tmp_path / "b", [{"upc": "3"}])
    short = {"url": "http://site.test/catalogue/page-2.html", "expected": 20, "found": 19}
    (a / "stats.json").write_text(json.dumps(
        {"ledger/announced": 5, "ledger/short_listings": [short]}), encoding="utf-8")
    (b / "stats.json").write_text(json.dumps({"ledger/failed": 1}), encoding="utf-8")
    assert unaccounted(3, [a, b]) == 1
    assert main([str(tmp_path / "out" / "books.json"), str(a), str(b)]) == 3
    assert "page-2.html shows 19 of 20" in capsys.readouterr().err


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "error: REDIS_URL: empty, and this worker must join a cluster (CLUSTER_REQUIRED)"),
        ({"BOOKS_REDIS_URL": ""}, "error: REDIS_URL: $BOOKS_REDIS_URL is set but empty"),
    ],
)
def test_a_container_without_redis_is_an_error_not_a_standalone_crawl(
    sandbox, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run_crawl(sandbox.base_url, tmp_path, "-s", "CLUSTER_REQUIRED=true", env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "books.jsonl").exists()


def test_make_cluster_removes_the_worker_folders_of_a_larger_earlier_run(tmp_path: Path) -> None:
    for n in (1, 2, 3):
        write_lines(tmp_path / f"worker-{n}", [{"upc": str(n)}])
    assert worker_folders(tmp_path, 2) == [tmp_path / "worker-1", tmp_path / "worker-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["worker-1", "worker-2"]

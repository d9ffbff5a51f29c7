"""OUTPUT_DIR is touched only by a crawl with something to write, then holds that crawl alone;
the previous crawl's files are set aside, not deleted, until the crawl has its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from booksscraper.output.errors import OutputError
from booksscraper.output.folder import OutputFolder, output_path
from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.output.resume import MARKER
from booksscraper.records.failures import Failures
from booksscraper.records.rejects import Rejects
from tests.helpers import REPO, read_lines, run_crawl

PREVIOUS = {
    "books.jsonl": '{"upc": "old"}\n',
    "books.json": '[{"upc": "old"}]\n',
    "rejects.jsonl": '{"url": "old-reject"}\n',
    "failures.jsonl": '{"url": "old-failure"}\n',
    "monitor.jsonl": '{"t": 0}\n',
    "stats.json": '{"old": 1}\n',
    "report.md": "# old report\n",
    "notes.txt": "not an output file: never removed\n",
}


def previous_crawl(folder: Path) -> dict[str, tuple[bytes, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in PREVIOUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return snapshot(folder)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def crawler_for(folder: Path, **settings):
    crawler = get_crawler(settings_dict={"OUTPUT_DIR": str(folder), **settings})
    crawler.stats.open_spider()
    return crawler


def test_writers_touch_nothing_until_their_first_record(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "deeper"
    crawler = crawler_for(folder)
    Rejects.for_crawler(crawler), Failures.for_crawler(crawler)
    output_path(crawler.settings, "OUTPUT_JSONL")
    assert not folder.parent.exists()


def test_the_first_record_sets_every_file_of_the_previous_crawl_aside(tmp_path: Path) -> None:
    before = previous_crawl(tmp_path)
    crawler = crawler_for(tmp_path)
    failures = Failures.for_crawler(crawler)
    rejects = Rejects.for_crawler(crawler)
    assert snapshot(tmp_path) == before
    failures.record("http://books.example/x", "http_404", 1)
    # The crawl's JSON lines files exist from its first record (a kill -9 leaves them so).
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "failures.jsonl", "notes.txt", "previous", "rejects.jsonl", "stats.json"
    ]
    assert json.loads((tmp_path / "stats.json").read_text())["output/status"] == "running"
    kept = snapshot(tmp_path / "previous")  # byte for byte, until this crawl has its own
    assert {name: data for name, (data, _) in kept.items()} == {
        name: data for name, (data, _) in before.items() if name != "notes.txt"}
    rejects._close()  # no reject: an empty file, not the last crawl's
    failures._close()
    assert (tmp_path / "rejects.jsonl").read_text() == ""
    assert [r["url"] for r in read_lines(tmp_path / "failures.jsonl")] == ["http://books.example/x"]


def test_a_resumed_crawl_keeps_the_books_and_samples_it_goes_on_with(tmp_path: Path) -> None:
    previous_crawl(tmp_path / "out")
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / MARKER).write_text("1")  # an unfinished run of this JOBDIR
    crawler = crawler_for(tmp_path / "out", JOBDIR=str(tmp_path / "job"))
    OutputFolder.for_crawler(crawler).start()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "books.json", "books.jsonl", "monitor.jsonl", "notes.txt", "stats.json"
    ]


def test_output_off_writes_nothing_and_counts_still(tmp_path: Path) -> None:
    before = previous_crawl(tmp_path)
    crawler = crawler_for(tmp_path, OUTPUT_ENABLED=False)
    failures = Failures.for_crawler(crawler)
    failures.record("http://books.example/x", "http_404", 1)
    failures._close()
    assert snapshot(tmp_path) == before
    assert failures.count == 1 and crawler.stats.get_value("ledger/failed") == 1


def test_a_folder_that_cannot_be_made_is_an_output_error_at_the_first_record(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    crawler = crawler_for(tmp_path / "out")
    writer = JsonLinesWriter(tmp_path / "out" / "x.jsonl", append=False,
                             output=OutputFolder.for_crawler(crawler))
    OutputFolder.for_crawler(crawler).folder = blocker / "sub"
    with pytest.raises(OutputError):
        writer.write({"a": 1})


@pytest.fixture
def book_url(sandbox) -> str:
    return sandbox.truth()[0]["url"]


@pytest.mark.parametrize("command", [
    ["shell", "{url}", "-c", "response.status"],
    ["parse", "--spider", "books", "-c", "parse_book", "{url}"],
    ["parse", "--spider", "books", "-c", "parse_book", "http://127.0.0.1:9/catalogue/x.html"],
    ["check", "books"],
    ["fetch", "--nolog", "{url}"],
])
def test_a_look_at_a_page_leaves_the_output_folder_byte_identical(
    command: list[str], book_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "output"
    before = previous_crawl(out)
    argv = [sys.executable, "-m", "scrapy", *(a.format(url=book_url) for a in command),
            "-s", f"OUTPUT_DIR={out}", "-s", "RETRY_TIMES=0"]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120,
                            check=False)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert snapshot(out) == before
    # And a folder that is not there is not made.
    missing = tmp_path / "missing"
    argv[argv.index(f"OUTPUT_DIR={out}")] = f"OUTPUT_DIR={missing}"
    subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert not missing.exists()


def test_a_crawl_replaces_the_previous_crawls_files_and_leaves_no_mix(
    sandbox, tmp_path: Path
) -> None:
    previous_crawl(tmp_path)
    result = run_crawl(sandbox.truth()[0]["url"], tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".crawl.lock", "books.json", "books.jsonl", "failures.jsonl", "incremental",
                     "monitor.jsonl", "notes.txt", "rejects.jsonl", "stats.json"]
    text = "".join((tmp_path / n).read_text() for n in names
                   if n not in ("notes.txt", ".crawl.lock") and (tmp_path / n).is_file())
    for mark in ('"old"', "old-reject", "old-failure", "old report"):
        assert mark not in text

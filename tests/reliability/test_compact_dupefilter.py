"""The compact set of 64-bit keys, and the duplicate filter built on it: same answers as
Scrapy's, no requests.seen (a resumed crawl starts from its output), and a JOBDIR crawl
stopped with SIGINT and resumed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from booksscraper.addon import BooksStack
from booksscraper.dedup.dupefilter import CompactDupeFilter
from booksscraper.dedup.keyset import KeySet, key64
from booksscraper.output.resume import already_exported
from booksscraper.pipelines.export import upc_key, write_json_array
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import REPO, read_books

# -- KeySet -------------------------------------------------------------------------------------


def test_keyset_membership_through_many_resizes() -> None:
    rng = random.Random(11)
    keys = [rng.getrandbits(64) for _ in range(50_000)] + list(range(1, 2000))  # random, sequential
    others = [rng.getrandbits(64) for _ in range(5_000)]
    keyset = KeySet(capacity=8)
    assert all(keyset.add(key) for key in keys)
    assert not any(keyset.add(key) for key in keys)  # a second add says "already there"
    assert len(keyset) == len(set(keys))
    assert all(key in keyset for key in keys)
    assert not any(key in keyset for key in set(others) - set(keys))
    assert sorted(keyset) == sorted(set(keys))
    # At most max_load full, at least half that after growing: 8 / 0.6 .. 8 / 0.3 bytes a key.
    assert 8 / 0.6 <= keyset.nbytes / len(keyset) <= 8 / 0.3 + 1


def test_keyset_edges() -> None:
    keyset = KeySet()
    assert 0 not in keyset and keyset.add(0) and not keyset.add(0) and 0 in keyset
    top = 2**64 - 1
    assert keyset.add(top) and top in keyset and len(keyset) == 2
    assert "x" not in keyset and -1 not in keyset and 2**64 not in keyset
    with pytest.raises(ValueError):
        keyset.add(2**64)
    with pytest.raises(ValueError):
        KeySet(max_load=1.0)
    assert key64("abc") == key64(b"abc") != key64("abd")


def test_upc_keys_tell_apart_what_strings_would() -> None:
    assert upc_key("00000000000000ff") == 255
    distinct = ["a897fe39b1053632", "A897FE39B1053632", "0x97fe39b1053632", None, "None", "", "x"]
    assert len({upc_key(upc) for upc in distinct}) == len(distinct)


def test_json_array_keeps_the_first_record_of_each_upc(tmp_path: Path) -> None:
    jsonl = tmp_path / "books.jsonl"
    records = [{"upc": f"{i % 700:016x}", "n": i} for i in range(1000)]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert write_json_array(jsonl, tmp_path / "books.json") == 700
    written = json.loads((tmp_path / "books.json").read_text(encoding="utf-8"))
    assert [r["n"] for r in written] == list(range(700))


# -- the duplicate filter -----------------------------------------------------------------------


def make_filter(cls: type[RFPDupeFilter], jobdir: Path | None = None) -> RFPDupeFilter:
    settings = {"JOBDIR": str(jobdir)} if jobdir else {}
    crawler = get_crawler(settings_dict=settings)
    return cls.from_crawler(crawler)


def requests(count: int) -> list[Request]:
    return [Request(f"http://127.0.0.1/catalogue/book_{i}/index.html") for i in range(count)]


def test_filter_answers_like_scrapys() -> None:
    ours, scrapys = make_filter(CompactDupeFilter), make_filter(RFPDupeFilter)
    stream = requests(3000)
    stream += random.Random(5).sample(stream, 1000)
    # Same URL, other fragment or query order: Scrapy's fingerprinter makes them the same.
    stream += [Request("http://127.0.0.1/catalogue/book_1/index.html#x"),
               Request("http://127.0.0.1/a?b=1&a=2"), Request("http://127.0.0.1/a?a=2&b=1"),
               Request("http://127.0.0.1/a", method="POST", body=b"1")]
    assert [ours.request_seen(r) for r in stream] == [scrapys.request_seen(r) for r in stream]


def test_the_addon_turns_it_on_unless_the_project_chose_a_filter() -> None:
    settings = Settings()
    BooksStack().update_settings(settings)
    assert settings["DUPEFILTER_CLASS"] == "booksscraper.dedup.dupefilter.CompactDupeFilter"
    chosen = "scrapy.dupefilters.BaseDupeFilter"
    settings = Settings({"DUPEFILTER_CLASS": chosen}, priority="project")
    BooksStack().update_settings(settings)
    assert settings["DUPEFILTER_CLASS"] == chosen


# -- a real crawl, interrupted and resumed from its output --------------------------------------


def start_crawl(base_url: str, out: Path, jobdir: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "scrapy", "crawl", "books",
        "-a", f"start_url={base_url}",
        "-s", f"OUTPUT_DIR={out}", "-s", f"JOBDIR={jobdir}", "-s", "LOG_LEVEL=INFO",
    ]
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def book_pages(sandbox: object) -> int:
    return sandbox.stats()["by_kind"]["book"]  # type: ignore[attr-defined]


@pytest.mark.timeout(300)
def test_a_crawl_stopped_with_sigint_resumes_from_its_output(tmp_path: Path) -> None:
    out, jobdir = tmp_path / "out", tmp_path / "job"
    with running_sandbox(books=1000, seed=3, latency_ms=40) as sandbox:
        first = start_crawl(sandbox.base_url, out, jobdir)
        deadline = time.monotonic() + 60
        while (not (out / "books.jsonl").exists()
               or (out / "books.jsonl").read_bytes().count(b"\n") < 200):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGINT)
        _, log = first.communicate(timeout=60)
        assert "Traceback" not in log, log[-3000:]
        assert not (jobdir / "requests.seen").exists()  # the output says what is done
        exported = (out / "books.jsonl").read_bytes().count(b"\n")
        assert 0 < exported < 1000
        first_pages = book_pages(sandbox)

        second = start_crawl(sandbox.base_url, out, jobdir)
        _, log = second.communicate(timeout=240)
        assert second.returncode == 0, log[-3000:]
        truth = sandbox.truth()
        pages = book_pages(sandbox)
    assert differences(read_books(out), truth) == []
    stats = json.loads((out / "stats.json").read_text())
    # The resumed run started from the output (the first run's queue and seen set discarded),
    # skipping what was exported: every book page was downloaded once over both runs.
    assert stats["resume/discarded_state"] == 1
    assert stats["resume/skipped_exported"] == exported
    assert pages == 1000, f"book pages fetched: {first_pages} then {pages - first_pages}"


def test_already_exported_urls_are_kept_as_keys(tmp_path: Path) -> None:
    urls = [f"http://127.0.0.1/catalogue/book_{i}/index.html" for i in range(2000)]
    lines = [json.dumps({"url": url, "upc": f"{i:016x}"}) for i, url in enumerate(urls[:1500])]
    (tmp_path / "books.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    exported = already_exported(Settings({"OUTPUT_DIR": str(tmp_path)}))
    assert len(exported) == 1500
    assert all(url in exported for url in urls[:1500])
    assert not any(url in exported for url in urls[1500:])
    assert None not in exported

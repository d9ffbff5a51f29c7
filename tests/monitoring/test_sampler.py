"""ProcessTreeSampler on real processes whose children come and go; pure helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from booksscraper.extensions.latency import BUCKETS_MS, bucket_label
from booksscraper.extensions.monitor import ProcessTreeSampler, own_inet_sockets
from booksscraper.extensions.summary import format_summary, summary_numbers
from booksscraper.report.charts import latency_histogram, windowed_rates

# A parent that starts three workers holding ~20 MB each, prints their PIDs and
# never reaps them (so a killed one stays a zombie, as a crashed pool worker can).
PARENT = textwrap.dedent(
    """
    import subprocess, sys
    worker = "x = bytearray(20 * 2**20); import time; time.sleep(60)"
    kids = [subprocess.Popen([sys.executable, "-c", worker]) for _ in range(3)]
    print(" ".join(str(k.pid) for k in kids), flush=True)
    sys.stdin.read()
    """
)


@pytest.mark.timeout(60)
def test_children_are_summed_and_dead_ones_skipped() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        kids = [int(pid) for pid in parent.stdout.readline().split()]
        sampler = ProcessTreeSampler(parent.pid)
        # Wait until every worker has allocated its 20 MB.
        deadline = time.monotonic() + 30
        while not all(psutil.Process(pid).memory_info().rss > 20 * 2**20 for pid in kids):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.05)
        first = sampler.sample()
        assert first["children"] == 3
        assert first["rss_bytes"] > 60 * 2**20
        os.kill(kids[0], signal.SIGKILL)  # the parent never reaps it: it stays a zombie
        for _ in range(100):
            after = sampler.sample()
            if after["children"] == 2:
                break
        assert after["children"] == 2
        assert after["rss_bytes"] < first["rss_bytes"] - 15 * 2**20
        assert after["fd_limit"] == first["fd_limit"] > 0
    finally:
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_own_sockets_are_counted_as_psutil_counts_them_and_left_open() -> None:
    kinds = [
        (socket.AF_INET, socket.SOCK_STREAM),
        (socket.AF_INET6, socket.SOCK_STREAM),
        (socket.AF_INET, socket.SOCK_DGRAM),
        (socket.AF_INET, socket.SOCK_DGRAM),
        (socket.AF_UNIX, socket.SOCK_STREAM),  # not inet: not counted
    ]
    before = own_inet_sockets()
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(socket.socket(family, kind)) for family, kind in kinds]
        listener = opened[0]
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        opened[2].bind(("127.0.0.1", 0))  # the other UDP socket and the IPv6 one: no port
        client = stack.enter_context(socket.create_connection(listener.getsockname()))
        served, _ = listener.accept()
        stack.enter_context(served)
        counted = own_inet_sockets()
        assert counted == len(psutil.Process().net_connections(kind="inet"))
        assert counted == before + 4  # the listener, the bound UDP, a connection's two ends
        assert own_inet_sockets() == counted  # counting closed none of them
        client.sendall(b"still open")
        assert served.recv(10) == b"still open"


def test_latency_buckets_are_upper_bounds() -> None:
    assert bucket_label(0.2) == "1"
    assert bucket_label(1) == "1"
    assert bucket_label(1.01) == "1.5"
    assert bucket_label(143) == "150"
    assert bucket_label(BUCKETS_MS[-1] + 1) == "inf"
    stats = {"latency/histogram_ms/150": 4, "latency/histogram_ms/300": 1}
    # Empty buckets at both ends are trimmed, those between are kept.
    assert latency_histogram(stats) == [("100–150", 4), ("150–200", 0), ("200–300", 1)]
    assert latency_histogram({}) == []


def test_windowed_rates() -> None:
    samples = [{"t": float(t), "pages": 10 * t} for t in range(12)]
    times, rates = windowed_rates(samples, "pages")
    assert times == [float(t) for t in range(1, 12)]
    assert rates == pytest.approx([10.0] * 11)


def test_summary_counts_the_ledger_and_bans_from_stats() -> None:
    stats = {
        "finish_reason": "finished",
        "ledger/announced": 1000,
        "ledger/exported": 990,
        "ledger/rejected": 4,
        "ledger/failed": 3,
        "ledger/failed_books": 2,
        "ledger/duplicates": 4,
        "ledger/refetched": 6,
        "downloader/response_count": 1051,
        "robotstxt/response_count": 1,
        "retry/count": 12,
        "bans/status/403": 2,
        "bans/error/ConnectionRefusedError": 1,
        "monitor/rss_peak_bytes": 96 * 2**20,
        "elapsed_time_seconds": 41.23,
    }
    line = format_summary(summary_numbers(stats))
    assert line == (
        "Crawl summary (finished): 990 books exported of 1000 announced, 4 rejected, 2 failed, "
        "4 duplicates, 0 not attempted, 0 unaccounted; 3 requests given up, 6 bad copies "
        "fetched again; 1050 pages, 12 retries, 3 bans, peak RSS 96 MiB, 41.2 s"
    )


@pytest.mark.parametrize(
    ("settings", "deprecated"),
    [({"RESOURCE_MONITOR_ENABLED": False}, False), ({"MONITOR_ENABLED": False}, True)],
)
def test_the_sampler_s_switch_and_its_old_name(
    settings: dict[str, bool], deprecated: bool, recwarn: pytest.WarningsRecorder
) -> None:
    from scrapy.exceptions import NotConfigured, ScrapyDeprecationWarning
    from scrapy.utils.test import get_crawler

    from booksscraper.extensions.monitor import ResourceMonitor

    with pytest.raises(NotConfigured):
        ResourceMonitor.from_crawler(get_crawler(settings_dict=settings))
    warned = [w for w in recwarn if issubclass(w.category, ScrapyDeprecationWarning)]
    expected = ["MONITOR_ENABLED"] if deprecated else []
    assert [str(w.message).split()[0] for w in warned] == expected

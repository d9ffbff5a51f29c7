"""A crawl through real proxies (tinyproxy with Basic auth, and one that is down):
the request log never shows the password, and the report draws proxy health."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring.conftest import BOOKS, crawl
from tests.monitoring.test_report import make_report, png_size
from tests.monitoring.test_requestlog import REQUEST_LINE

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy is not installed"),
]

PASSWORD = "s3cr3t-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def tinyproxy(tmp: Path) -> Iterator[int]:
    """A tinyproxy on a free loopback port that wants ``user`` / PASSWORD; yields its port."""
    port = free_port()
    conf = tmp / f"tinyproxy-{port}.conf"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\n"
        f"BasicAuth user {PASSWORD}\nDisableViaHeader Yes\nLogLevel Error\n"
    )
    proc = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.skip("tinyproxy did not start")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_proxy_crawl_masks_credentials_and_reports_proxy_health(
    slow_sandbox: Any, tmp_path: Path
) -> None:
    down = free_port()  # nothing listens there: that proxy dies
    with tinyproxy(tmp_path) as first, tinyproxy(tmp_path) as second:
        proxies = [f"http://user:{PASSWORD}@127.0.0.1:{port}" for port in (first, second, down)]
        result = crawl(
            slow_sandbox,
            tmp_path / "out",
            f"ROTATING_PROXY_LIST={','.join(proxies)}",
            "LOG_LEVEL=DEBUG",
            "MONITOR_INTERVAL=0.2",
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["item_scraped_count"] == BOOKS
    # Never the password, anywhere: log, stats, time series.
    for text in (
        result.stderr,
        result.stdout,
        (result.out_dir / "stats.json").read_text(),
        (result.out_dir / "monitor.jsonl").read_text(),
    ):
        assert PASSWORD not in text
    used = {m["proxy"] for m in REQUEST_LINE.finditer(result.stderr)}
    assert {f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"} <= {
        re.sub(r"//user:\*\*\*@", "//", proxy) for proxy in used
    }
    # The time series follows the pool: the proxy that is down ends dead.
    last = result.samples[-1]
    assert last["proxies_good"] >= 1
    assert last["proxies_dead"] >= 1
    report = make_report(result.out_dir)
    assert report.returncode == 0, report.stderr
    text = (result.out_dir / "report.md").read_text(encoding="utf-8")
    assert "![Proxy health](report/proxies.png)" in text
    width, _ = png_size(result.out_dir / "report" / "proxies.png")
    assert width >= 600
    assert f"| http://127.0.0.1:{down} | dead |" in text
    assert f"| http://127.0.0.1:{first} | good |" in text

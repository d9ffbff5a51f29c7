"""A crawl through real proxies (tinyproxy with Basic auth, and one that is down):
the request log never shows the password, and the report draws proxy health."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.monitoring.conftest import BOOKS, crawl
from tests.monitoring.test_report import make_report, png_size
from tests.monitoring.test_requestlog import REQUEST_LINE
from tests.proxies import PROXY_PASSWORD, PROXY_USER, TinyProxies

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy is not installed"),
]

def test_proxy_crawl_masks_credentials_and_reports_proxy_health(
    slow_sandbox: Any, tmp_path: Path, tinyproxies: TinyProxies
) -> None:
    down = free_port()  # nothing listens there: that proxy dies
    started = [tinyproxies.start("127.0.0.1", auth=True) for _ in range(2)]
    first, second = (int(url.rsplit(":", 1)[1]) for url in started)
    proxies = [*started, f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{down}"]
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
        assert PROXY_PASSWORD not in text
    used = {m["proxy"] for m in REQUEST_LINE.finditer(result.stderr)}
    assert {f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"} <= {
        re.sub(rf"//{PROXY_USER}:\*\*\*@", "//", proxy) for proxy in used
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

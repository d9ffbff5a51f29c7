"""Through real HTTP proxies (tinyproxy) whose outgoing connections leave from 127.0.0.2/.3."""

from __future__ import annotations

import shutil

import pytest
import requests

from booksscraper.sandbox.testing import RunningSandbox
from tests.proxies import TinyProxies

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy is not installed"),
]


def test_proxies_are_keyed_by_their_outgoing_address(
    sb: RunningSandbox, tinyproxies: TinyProxies
) -> None:
    sb.configure(rate_limit=0.2, rate_burst=2)
    p2, p3 = tinyproxies.start("127.0.0.2"), tinyproxies.start("127.0.0.3")

    def through(proxy: str) -> int:
        return requests.get(sb.base_url + "catalogue/page-2.html", timeout=10,
                            proxies={"http": proxy}).status_code

    assert [through(p2) for _ in range(3)] == [200, 200, 429]
    assert [through(p3) for _ in range(2)] == [200, 200]
    page = requests.get(sb.base_url + "catalogue/page-3.html", proxies={"http": p3},
                        timeout=10)
    assert page.status_code == 429 and page.headers["Retry-After"]
    by_ip = sb.stats()["by_ip"]
    assert set(by_ip) == {"127.0.0.2", "127.0.0.3"}
    assert by_ip["127.0.0.2"]["count"] == 3 and by_ip["127.0.0.3"]["count"] == 3

"""Through real HTTP proxies (tinyproxy) whose outgoing connections leave from 127.0.0.2/.3."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from booksscraper.sandbox.testing import RunningSandbox

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def tinyproxy(bind: str, tmp: Path) -> Iterator[str]:
    port = free_port()
    conf = tmp / f"tinyproxy-{port}.conf"
    conf.write_text(f"Port {port}\nListen 127.0.0.1\nBind {bind}\nTimeout 30\nMaxClients 20\n"
                    "Allow 127.0.0.1\nDisableViaHeader Yes\nLogLevel Error\n")
    proc = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_proxies_are_keyed_by_their_outgoing_address(sb: RunningSandbox, tmp_path: Path) -> None:
    sb.configure(rate_limit=0.2, rate_burst=2)
    with tinyproxy("127.0.0.2", tmp_path) as p2, tinyproxy("127.0.0.3", tmp_path) as p3:
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

"""Secrets never on a command line: a cluster worker given its Redis password, proxy password
and webhook token through the environment and a file. None reaches `ps`, the log or any
output file, and each one is really used (Redis joined, pages through the proxy, alert POSTed).
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from booksscraper.records.credentials import SECRET_ENV_PREFIX
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.redis_server import running_redis
from tests.helpers import REPO, crawl_command
from tests.monitors.conftest import Receiver
from tests.proxies import PROXY_PASSWORD


def command_lines(pid: int) -> str:
    """The command lines of the crawl and every process it started, as `ps` shows them (not
    the whole machine's: other tests' crawls may give the shared test proxy's password on
    their command lines)."""
    lines = []
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            lines.append(" ".join(proc.cmdline()))
    except psutil.Error:
        pass  # gone meanwhile
    return "\n".join(lines)


@pytest.mark.timeout(120)
def test_no_secret_reaches_ps_the_log_or_an_output_file(tinyproxies, tmp_path: Path) -> None:
    redis_password, token = secrets.token_hex(12), secrets.token_hex(12)
    receiver = Receiver()
    proxy = tinyproxies.start("127.0.0.2", auth=True)
    url_file = tmp_path / "redis-url"
    out = tmp_path / "out"
    try:
        with running_redis(redis_password) as redis, \
                running_sandbox(books=30, seed=8, fault_no_price=0.5) as sb:
            url_file.write_text(redis.url + "\n", encoding="utf-8")
            env = {
                f"{SECRET_ENV_PREFIX}REDIS_URL_FILE": str(url_file),
                f"{SECRET_ENV_PREFIX}ALERT_WEBHOOK_URL": receiver.url(f"alerts:{token}"),
                f"{SECRET_ENV_PREFIX}PROXIES": proxy,
            }
            # Books without a price fail a monitor: the crawl sends an alert with the token.
            command = crawl_command(sb.base_url, out, "-s", "CLUSTER_IDLE_BEFORE_CLOSE=1",
                                    "-s", f"LOG_FILE={tmp_path / 'crawl.log'}")
            crawl = subprocess.Popen(command, cwd=REPO, env={**_environ(), **env},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            seen = ""
            while crawl.poll() is None:
                seen += command_lines(crawl.pid)
                time.sleep(0.2)
            stdout, stderr = crawl.communicate(timeout=30)
            by_ip = sb.stats()["by_ip"]
    finally:
        receiver.close()
    log = (tmp_path / "crawl.log").read_text(encoding="utf-8", errors="replace")
    assert crawl.returncode == 3, stderr[-3000:]  # the monitor's doing, as intended
    # Each secret was used...
    assert "Cluster worker" in log and "on Redis 127.0.0.1" in log
    assert set(by_ip) == {"127.0.0.2"} and by_ip["127.0.0.2"]["count"] > 30
    assert receiver.received and "Authorization" in receiver.received[0]["headers"]
    # ...and is nowhere to be seen.
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert "crawl books" in seen  # the crawl's own command lines were read
    for secret in (redis_password, token, PROXY_PASSWORD):
        assert secret not in seen, "a secret on a command line"
        assert secret not in stdout + stderr + log, "a secret in the log"
        assert secret not in written, "a secret in an output file"


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(SECRET_ENV_PREFIX)}

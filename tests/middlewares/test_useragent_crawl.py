"""User-Agent modes seen from the server side of real crawls."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from booksscraper.middlewares.useragent import DEFAULT_PROFILES_FILE, load_profiles
from tests.helpers import run_crawl
from tests.middlewares.conftest import crawl_stats

pytestmark = pytest.mark.timeout(90)


def test_identify_mode_is_the_default(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(books=20)
    result = run_crawl(sb.base_url, tmp_path, timeout=80)
    assert result.returncode == 0, result.stderr[-3000:]
    agents = sb.stats()["by_user_agent"]
    assert list(agents) == ["booksscraper/0.1 (+https://github.com/booksscraper/booksscraper)"]
    stats = crawl_stats(result.stderr)
    assert stats["useragent/family/identify"] == stats["downloader/request_count"]


def test_rotate_mode_uses_many_real_profiles(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(books=60)
    result = run_crawl(sb.base_url, tmp_path, "-s", "USER_AGENT_MODE=rotate", timeout=80)
    assert result.returncode == 0, result.stderr[-3000:]
    profiles = load_profiles(DEFAULT_PROFILES_FILE)
    agents = set(sb.stats()["by_user_agent"])
    assert agents <= {p.headers["User-Agent"] for p in profiles}
    assert len(agents) >= 5  # ~70 requests over 10 profiles
    stats = crawl_stats(result.stderr)
    families = {
        k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("useragent/family/")
    }
    assert set(families) <= {"chrome", "edge", "firefox", "safari"} and len(families) >= 3
    assert sum(families.values()) == stats["downloader/request_count"]


class RecordingProxy(ThreadingHTTPServer):
    """A plain HTTP proxy that notes the headers of every request it forwards."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: RecordingProxy

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        self.server.seen.append({"url": self.path, **headers})
        upstream = http.client.HTTPConnection(target.netloc, timeout=30)
        upstream.request("GET", target.path or "/", headers=headers)
        reply = upstream.getresponse()
        body = reply.read()
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        upstream.close()

    def log_message(self, *args: object) -> None:
        pass


def test_rotated_requests_carry_their_profile_and_say_how_they_came_about(
    make_sandbox, tmp_path: Path
) -> None:
    """What the site receives: 429s make retries draw other profiles, links carry a Referer."""
    sb = make_sandbox(books=20, fault_429=0.2, retry_after=0)
    proxy = RecordingProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        result = run_crawl(
            sb.base_url, tmp_path, "-s", "USER_AGENT_MODE=rotate",
            "-s", f"ROTATING_PROXY_LIST={proxy.url}", timeout=80,
        )  # fmt: skip
    finally:
        proxy.shutdown()
    assert result.returncode == 0, result.stderr[-3000:]
    profiles = {p.headers["User-Agent"]: p for p in load_profiles(DEFAULT_PROFILES_FILE)}
    profile_names = {name.lower() for p in profiles.values() for name in p.headers}
    pages = [r for r in proxy.seen if not r["url"].endswith("/robots.txt")]
    assert len(pages) > 20 and crawl_stats(result.stderr)["retry/count"] > 0
    for request in pages:
        sent = {k.lower(): v for k, v in request.items()}
        profile = profiles[sent["user-agent"]]
        # Exactly this profile's browser headers: none left from another profile.
        assert {n for n in sent if n in profile_names} == {n.lower() for n in profile.headers}
        site = sent.get("sec-fetch-site")
        if "sec-fetch-site" in {n.lower() for n in profile.headers}:
            assert site == ("same-origin" if "referer" in sent else "none"), request
    assert any("referer" in {k.lower() for k in r} for r in pages)

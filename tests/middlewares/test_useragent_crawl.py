"""User-Agent modes seen from the server side of real crawls."""

from __future__ import annotations

from pathlib import Path

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

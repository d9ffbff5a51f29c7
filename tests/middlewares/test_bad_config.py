"""Unusable settings stop `scrapy crawl books` at start-up with one line naming the setting."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_crawl

pytestmark = pytest.mark.timeout(60)


def crawl(
    tmp_path: Path, *settings: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = [arg for setting in settings for arg in ("-s", setting)]
    return run_crawl("http://127.0.0.1:9/", tmp_path / "out", *args, timeout=50, env=env)


def assert_one_line_error(result: subprocess.CompletedProcess[str], setting: str) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert setting in errors[0]
    assert "Traceback" not in result.stderr
    return errors[0]


def test_malformed_proxy_url_masks_its_password(tmp_path: Path) -> None:
    result = crawl(tmp_path, "ROTATING_PROXY_LIST=http://bob:hunter2@127.0.0.1:notaport")
    line = assert_one_line_error(result, "ROTATING_PROXY_LIST")
    assert "malformed proxy URL" in line and "bob:***@" in line
    assert "hunter2" not in result.stderr + result.stdout


def test_malformed_proxy_in_the_environment(tmp_path: Path) -> None:
    result = crawl(tmp_path, env={"BOOKS_PROXIES": "127.0.0.1:3128 ftp://127.0.0.1:21"})
    assert_one_line_error(result, "BOOKS_PROXIES")


def test_unreadable_proxy_file(tmp_path: Path) -> None:
    result = crawl(tmp_path, f"ROTATING_PROXY_LIST_PATH={tmp_path / 'missing.txt'}")
    line = assert_one_line_error(result, "ROTATING_PROXY_LIST_PATH")
    assert "cannot read proxy file" in line


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_bad_backoff_base(tmp_path: Path, value: str) -> None:
    assert_one_line_error(crawl(tmp_path, f"RETRY_BACKOFF_BASE={value}"), "RETRY_BACKOFF_BASE")


def test_bad_budget_ratio_and_proxy_backoff(tmp_path: Path) -> None:
    assert_one_line_error(crawl(tmp_path, "RETRY_BUDGET_RATIO=lots"), "RETRY_BUDGET_RATIO")
    result = crawl(tmp_path, "ROTATING_PROXY_LIST=127.0.0.1:3128", "ROTATING_PROXY_BACKOFF_CAP=-5")
    assert_one_line_error(result, "ROTATING_PROXY_BACKOFF_CAP")


def test_empty_user_agent_list(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.json"
    profiles.write_text(json.dumps({"profiles": []}))
    result = crawl(tmp_path, "USER_AGENT_MODE=rotate", f"USER_AGENT_PROFILES_FILE={profiles}")
    assert_one_line_error(result, "USER_AGENT_PROFILES_FILE")


def test_unknown_user_agent_mode(tmp_path: Path) -> None:
    assert_one_line_error(crawl(tmp_path, "USER_AGENT_MODE=random"), "USER_AGENT_MODE")

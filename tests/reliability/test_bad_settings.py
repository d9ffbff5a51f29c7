"""Bad settings fail at start-up in one line naming the setting (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_crawl

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("CONCURRENT_REQUESTS", "0", "must be an integer >= 1, got '0'"),
        ("CONCURRENT_REQUESTS", "-3", "must be an integer >= 1, got '-3'"),
        ("CONCURRENT_REQUESTS", "abc", "expected an integer, got 'abc'"),
        ("CONCURRENT_REQUESTS_PER_DOMAIN", "0", "must be an integer >= 1"),
        ("DOWNLOAD_DELAY", "-1", "must be >= 0"),
        ("DOWNLOAD_TIMEOUT", "soon", "expected a number, got 'soon'"),
        ("LOG_LEVEL", "LOUD", "unknown level 'LOUD'"),
        ("LOG_FILE", "/proc/no-such-dir/crawl.log", "cannot write /proc/no-such-dir/crawl.log"),
        ("JOBDIR", "/etc/hostname", "/etc/hostname is a file"),
        ("REDIS_URL", "notaurl", "not a Redis URL: 'notaurl'"),
        ("OUTPUT_DIR", "/proc/no-such-dir", "cannot create folder /proc/no-such-dir"),
        ("OUTPUT_JSON", "/tmp", "/tmp is outside OUTPUT_DIR"),
    ],
)
def test_bad_setting_is_one_line_naming_it(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    # An unreachable start URL: the crawl must stop before any request.
    result = run_crawl("http://127.0.0.1:9/", tmp_path, "-s", f"{setting}={value}", timeout=60)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {setting}: {message}")
    assert "Traceback" not in result.stderr
    assert not Path("/tmp.tmp").exists()  # nothing written outside OUTPUT_DIR


def test_an_output_file_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "books.json").mkdir()
    result = run_crawl("http://127.0.0.1:9/", tmp_path, timeout=60)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"error: OUTPUT_JSON: {tmp_path / 'books.json'} is a folder; give a file name"


def test_an_empty_start_url_is_an_error_not_the_real_site(tmp_path: Path) -> None:
    result = run_crawl("", tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: start_url: empty")

"""Settings as Scrapy users read them: `scrapy settings --get`, and typos named."""

from __future__ import annotations

import json
import subprocess
import sys

from booksscraper.config.declared import SETTINGS
from tests.helpers import REPO

# `scrapy settings --get NAME` for every declared setting, in one process: Scrapy's own
# command line (execute), its stdout per name.
EVERY_GET = """
import contextlib, io, json, sys
from scrapy.cmdline import execute
shown = {}
for name in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        execute(["scrapy", "settings", "--get", name])
    shown[name] = out.getvalue().strip()
print(json.dumps(shown))
"""


def scrapy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_scrapy_settings_get_shows_every_declared_default() -> None:
    result = subprocess.run(
        [sys.executable, "-c", EVERY_GET, *(s.name for s in SETTINGS)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    )
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    # settings.py sets OUTPUT_DIR itself (same value): the project's wins over the add-on's.
    assert shown == {s.name: str(s.default) for s in SETTINGS}


def test_a_misspelled_setting_is_a_warning_naming_the_likely_one() -> None:
    result = scrapy("settings", "--get", "CONCURRENT_REQUESTS",
                    "-s", "CONCURENT_REQUESTS=4", "-s", "RETRY_BACKOF_CAP=3",
                    "-s", "MY_OWN_PIPELINE_SETTING=1")
    assert result.returncode == 0
    assert result.stdout.strip() == "16"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING:")]
    assert warnings == [
        "WARNING: -s CONCURENT_REQUESTS: no such setting; did you mean CONCURRENT_REQUESTS?",
        "WARNING: -s RETRY_BACKOF_CAP: no such setting; did you mean RETRY_BACKOFF_CAP?",
    ]


def test_an_unknown_spider_argument_is_a_warning_before_anything_else() -> None:
    # A bad LOG_LEVEL stops the crawl before it starts (exit 2): no network needed.
    result = scrapy("crawl", "books", "-a", "start_ulr=http://127.0.0.1:9/",
                    "-a", "colour=red", "-s", "LOG_LEVEL=LOUD")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "WARNING: -a start_ulr: spider books has no such argument; did you mean start_url?",
        "WARNING: -a colour: spider books has no such argument; it takes start_url",
        "error: LOG_LEVEL: unknown level 'LOUD' (use DEBUG, INFO, WARNING, ERROR or CRITICAL)",
    ]


def test_a_bad_project_setting_is_one_line_before_any_banner() -> None:
    # A pipe: Scrapy's log would print its banner first; the error comes before it.
    for setting, message in (
        ("MONITOR_INTERVAL=abc", "error: MONITOR_INTERVAL: expected a number, got 'abc'"),
        ("INCREMENTAL=maybe", "error: INCREMENTAL: expected True or False, got 'maybe'"),
        ("CONCURRENT_REQUESTS=x", "error: CONCURRENT_REQUESTS: expected an integer, got 'x'"),
    ):
        result = scrapy("crawl", "books", "-s", setting)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [message]

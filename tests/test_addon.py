"""What the BooksStack add-on changes, pinned: components, Scrapy settings, nothing else."""

from __future__ import annotations

import subprocess
import sys

from scrapy.settings import Settings
from scrapy.utils.misc import load_object

from booksscraper.addon import BooksStack
from tests.helpers import REPO


def changes(settings: Settings) -> dict[str, tuple[object, str | None]]:
    """What the add-on does to ``settings``: name -> (new value, priority)."""
    before = {name: value for name, value in settings.items()}
    BooksStack().update_settings(settings)
    changed = {}
    for name, value in settings.items():
        if before.get(name) != value:
            changed[name] = (value, None)
    for name in ("DOWNLOADER", "DUPEFILTER_CLASS", "LOG_FORMATTER", "RETRY_TIMES"):
        changed[name] = (settings[name], settings.getpriority(name))
    return changed


def component_paths(settings: Settings, name: str) -> dict[str, int | None]:
    return {
        (path if isinstance(path, str) else f"{path.__module__}.{path.__qualname__}"): order
        for path, order in settings.getdict(name).items()
    }


def test_the_scrapy_settings_it_changes_at_addon_priority() -> None:
    settings = Settings()
    changed = changes(settings)
    addon = 15  # SETTINGS_PRIORITIES["addon"]
    assert {name: value for name, value in changed.items() if value[1] is not None} == {
        "DOWNLOADER": ("booksscraper.pacing.downloader.PerSlotLimitDownloader", addon),
        "DUPEFILTER_CLASS": ("booksscraper.dedup.dupefilter.CompactDupeFilter", addon),
        "LOG_FORMATTER": ("booksscraper.records.droplog.OneLineDrops", addon),
        "RETRY_TIMES": (6, addon),
    }
    assert set(changed) == {
        "DOWNLOADER", "DUPEFILTER_CLASS", "LOG_FORMATTER", "RETRY_TIMES",
        "DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES", "EXTENSIONS",
    }


def test_the_components_it_adds_and_replaces() -> None:
    settings = Settings()
    BooksStack().update_settings(settings)
    assert component_paths(settings, "DOWNLOADER_MIDDLEWARES") == {
        "booksscraper.pacing.pacer.SitePacer": 110,
        "booksscraper.middlewares.retry.BackoffRetryMiddleware": 550,
        "booksscraper.middlewares.proxies.ProxyRotationMiddleware": 610,
        "booksscraper.middlewares.bans.BanDetectionMiddleware": 620,
        "booksscraper.middlewares.useragent.UserAgentMiddleware": 640,
        "booksscraper.incremental.fetch.ConditionalFetch": 900,
        "booksscraper.middlewares.requestlog.RequestLogMiddleware": 950,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    }
    assert component_paths(settings, "ITEM_PIPELINES") == {
        "booksscraper.pipelines.validation.ValidationPipeline": 100,
        "booksscraper.pipelines.cleanup.CleanupPipeline": 300,
        "booksscraper.pipelines.export.ExportPipeline": 900,
    }
    assert component_paths(settings, "EXTENSIONS") == {
        "booksscraper.config.settings_check.SettingsCheck": 0,
        "booksscraper.output.resume.ResumeGuard": 50,
        "booksscraper.ledger.book_ledger.Ledger": 60,
        "booksscraper.extensions.latency.LatencyStats": 100,
        "booksscraper.extensions.monitor.ResourceMonitor": 110,
        "booksscraper.extensions.trim.MemoryTrim": 115,
        "booksscraper.extensions.progress.Progress": 120,
        "booksscraper.extensions.adaptive.AdaptiveConcurrency": 130,
        "booksscraper.incremental.extension.IncrementalCrawl": 850,
        "booksscraper.extensions.crawlmonitors.CrawlMonitors": 890,
        "booksscraper.extensions.summary.CrawlSummary": 900,
        "booksscraper.extensions.quietlogs.QuietRobotsErrors": 905,
        "booksscraper.records.lost.LostRequests": 910,
        "booksscraper.extensions.shutdown.FastShutdown": 920,
    }


def test_the_project_and_the_command_line_win() -> None:
    settings = Settings()
    settings.set("RETRY_TIMES", 3, "project")
    settings.set("DUPEFILTER_CLASS", "scrapy.dupefilters.RFPDupeFilter", "cmdline")
    moved = load_object("booksscraper.pipelines.export.ExportPipeline")
    settings.set("ITEM_PIPELINES", {moved: 950}, "project")
    BooksStack().update_settings(settings)
    assert settings.getint("RETRY_TIMES") == 3
    assert settings["DUPEFILTER_CLASS"] == "scrapy.dupefilters.RFPDupeFilter"
    assert settings.getdict("ITEM_PIPELINES")[moved] == 950


def scrapy_settings(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "scrapy", "settings", *args], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def test_scrapy_settings_shows_what_a_crawl_runs_with() -> None:
    assert scrapy_settings("--get", "RETRY_TIMES") == "6"
    assert scrapy_settings("--get", "RETRY_TIMES", "-s", "RETRY_TIMES=2") == "2"

"""The booksscraper stack as one Scrapy add-on.

``ADDONS = {"booksscraper.addon.BooksStack": 0}`` turns on every component
below. Each is added only where the project has not placed it already, so a
project can still move one (another priority) or switch it off (``None``) in
its own ``DOWNLOADER_MIDDLEWARES`` / ``ITEM_PIPELINES`` / ``EXTENSIONS``.
Each component reads its own settings in ``from_crawler``; defaults are
documented in its module and in docs/settings.md.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

# Downloader middlewares: User-Agent, proxies, retries with backoff.
DOWNLOADER_MIDDLEWARES: dict[str, int] = {
    # Backoff retries where Scrapy's RetryMiddleware was; proxies and ban detection where
    # scrapy-rotating-proxies puts them; User-Agent after the proxy (per_proxy mode needs it).
    "booksscraper.middlewares.retry.BackoffRetryMiddleware": 550,
    "booksscraper.middlewares.proxies.ProxyRotationMiddleware": 610,
    "booksscraper.middlewares.bans.BanDetectionMiddleware": 620,
    "booksscraper.middlewares.useragent.UserAgentMiddleware": 640,
    # Next to the downloader: logs every attempt with its raw status.
    "booksscraper.middlewares.requestlog.RequestLogMiddleware": 950,
}

# Item pipelines: validate first, clean up, export last.
ITEM_PIPELINES: dict[str, int] = {
    "booksscraper.pipelines.validation.ValidationPipeline": 100,
    # CPU-heavy cleanup on a process pool, between validation and export.
    "booksscraper.pipelines.cleanup.CleanupPipeline": 300,
    "booksscraper.pipelines.export.ExportPipeline": 900,
}

# Extensions: resource monitor, progress, reports.
EXTENSIONS: dict[str, int] = {
    # First: Scrapy's numeric settings checked before anything reads them.
    "booksscraper.settings_check.SettingsCheck": 0,
    # JOBDIR crawls that survive kill -9 (on only with JOBDIR).
    "booksscraper.resume.ResumeGuard": 50,
    "booksscraper.extensions.latency.LatencyStats": 100,
    "booksscraper.extensions.monitor.ResourceMonitor": 110,
    # Freed heap back to the OS every few seconds: flat RSS over long crawls.
    "booksscraper.extensions.trim.MemoryTrim": 115,
    "booksscraper.extensions.progress.Progress": 120,
    # Crawl-delay and POLITENESS_MAX_RPS as slot floors; the adaptive controller (opt-in).
    "booksscraper.extensions.adaptive.AdaptiveConcurrency": 130,
    "booksscraper.extensions.summary.CrawlSummary": 900,
    # robots.txt download errors in one line, not a traceback.
    "booksscraper.extensions.quietlogs.QuietRobotsErrors": 905,
    # Redirects the duplicate filter drops (loops) go to the failures file.
    "booksscraper.lost.LostRequests": 910,
    # Ctrl-C and SIGTERM end within seconds, whatever downloads hang.
    "booksscraper.extensions.shutdown.FastShutdown": 920,
}

# Stock components that ours replace.
REPLACED: dict[str, list[str]] = {
    "DOWNLOADER_MIDDLEWARES": [
        "scrapy.downloadermiddlewares.retry.RetryMiddleware",
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
    ],
}


class BooksStack:
    """Adds the project's middlewares, pipelines and extensions to a crawl."""

    def update_settings(self, settings: BaseSettings) -> None:
        for setting, components in (
            ("DOWNLOADER_MIDDLEWARES", DOWNLOADER_MIDDLEWARES),
            ("ITEM_PIPELINES", ITEM_PIPELINES),
            ("EXTENSIONS", EXTENSIONS),
        ):
            for path, order in components.items():
                settings.setdefault_in_component_priority_dict(setting, load_object(path), order)
        for setting, paths in REPLACED.items():
            for path in paths:
                settings.set_in_component_priority_dict(setting, load_object(path), None)
        # Per-slot concurrency that holds during bursts (booksscraper/downloader.py).
        settings.set("DOWNLOADER", "booksscraper.downloader.PerSlotLimitDownloader", "addon")
        # Seen requests as 64-bit keys, not a set of bytes (booksscraper/dedup/dupefilter.py);
        # "addon" priority: a DUPEFILTER_CLASS of the project or the command line wins.
        settings.set("DUPEFILTER_CLASS", "booksscraper.dedup.dupefilter.CompactDupeFilter", "addon")
        # The cluster switch (REDIS_URL) sets SCHEDULER and more, so it is an add-on of its own.
        load_object("booksscraper.cluster.addon.ClusterAddon")().update_settings(settings)

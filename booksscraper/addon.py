"""The booksscraper stack as one Scrapy add-on.

``ADDONS = {"booksscraper.addon.BooksStack": 0}`` turns on every component
below. Each is added only where the project has not placed it already, so a
project can still move one (another priority) or switch it off (``None``) in
its own ``DOWNLOADER_MIDDLEWARES`` / ``ITEM_PIPELINES`` / ``EXTENSIONS``. Our
retry and User-Agent middlewares replace Scrapy's (``REPLACES``) only while
they are on; switched off, Scrapy's stay.
Scrapy settings the stack changes are set here (``SCRAPY_SETTINGS``) at the
"addon" priority: ``scrapy settings --get NAME`` shows them (the project's
``settings`` command applies the add-ons, as a crawl does), and the project's
settings.py or ``-s NAME=VALUE`` still win. The project's own settings are
declared in ``booksscraper.config.declared`` (docs/settings.md); the add-on sets
each declared default that nothing has set, at the same "addon" priority.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from booksscraper.config.declared import SETTINGS

logger = logging.getLogger(__name__)

# Downloader middlewares: User-Agent, proxies, retries with backoff.
DOWNLOADER_MIDDLEWARES: dict[str, int] = {
    # Right after Scrapy's robots.txt middleware (100), before anything else spends work on
    # a request: the site pacer holds one that may not leave yet (booksscraper/pacing/pacer.py).
    # Not before robots.txt: requests waiting there for robots.txt would go all at once.
    "booksscraper.pacing.pacer.SitePacer": 110,
    # Proxies and ban detection where scrapy-rotating-proxies puts them; User-Agent after
    # the proxy (per_proxy mode needs it). Backoff retries: see REPLACES.
    "booksscraper.middlewares.proxies.ProxyRotationMiddleware": 610,
    "booksscraper.middlewares.bans.BanDetectionMiddleware": 620,
    "booksscraper.middlewares.useragent.UserAgentMiddleware": 640,
    # Conditional requests of incremental crawls: Scrapy's HTTP cache middleware, at its place.
    "booksscraper.incremental.fetch.ConditionalFetch": 900,
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
    "booksscraper.config.settings_check.SettingsCheck": 0,
    # One crawl at a time in OUTPUT_DIR and JOBDIR, locked before anything touches them.
    "booksscraper.output.lock.CrawlLock": 10,
    # JOBDIR crawls that survive kill -9 (on only with JOBDIR).
    "booksscraper.output.resume.ResumeGuard": 50,
    # Every book announced, listed and settled: what every count a user sees reads.
    "booksscraper.ledger.book_ledger.Ledger": 60,
    "booksscraper.extensions.latency.LatencyStats": 100,
    "booksscraper.extensions.monitor.ResourceMonitor": 110,
    # Freed heap back to the OS every few seconds: flat RSS over long crawls.
    "booksscraper.extensions.trim.MemoryTrim": 115,
    "booksscraper.extensions.progress.Progress": 120,
    # The adaptive controller (opt-in): per-site concurrency and pace, applied by the pacer.
    "booksscraper.extensions.adaptive.AdaptiveConcurrency": 130,
    # What changed since the last run; before the summary, which writes its stats.
    "booksscraper.incremental.extension.IncrementalCrawl": 850,
    # Monitors at the end (before the summary writes stats.json) and while it runs; alerts.
    "booksscraper.extensions.crawlmonitors.CrawlMonitors": 890,
    "booksscraper.extensions.summary.CrawlSummary": 900,
    # robots.txt download errors in one line, not a traceback.
    "booksscraper.extensions.quietlogs.QuietRobotsErrors": 905,
    # Redirects the duplicate filter drops (loops) go to the failures file.
    "booksscraper.records.lost.LostRequests": 910,
    # Ctrl-C and SIGTERM end within seconds, whatever downloads hang.
    "booksscraper.extensions.shutdown.FastShutdown": 920,
}

# Scrapy settings the stack changes (a project's or the command line's value wins).
SCRAPY_SETTINGS: dict[str, object] = {
    # Per-slot concurrency that holds during bursts (booksscraper/pacing/downloader.py).
    "DOWNLOADER": "booksscraper.pacing.downloader.PerSlotLimitDownloader",
    # Seen requests as 64-bit keys, not a set of bytes (booksscraper/dedup/dupefilter.py).
    "DUPEFILTER_CLASS": "booksscraper.dedup.dupefilter.CompactDupeFilter",
    # Scrapy's 2 retries are too few for a storm of 503s; ours back off between attempts.
    "RETRY_TIMES": 6,
    # A dropped item logged as one line (its URL and reasons), never its whole text.
    "LOG_FORMATTER": "booksscraper.records.droplog.OneLineDrops",
}

# Scrapy's remote-control extension: imported only to find REMOTE_CONTROL_ENABLED off, its
# module loads aiohttp's web server at every start. Off, it is left out of EXTENSIONS_BASE:
# a None in EXTENSIONS would not do, Scrapy imports every key there to compare it.
REMOTE_CONTROL = "scrapy.extensions.remote_control.RemoteControl"

# Downloader middlewares of ours that replace a built-in: ours -> Scrapy's. Ours takes the
# built-in's position unless DOWNLOADER_MIDDLEWARES above gives it one; a project that
# switches ours off (None) keeps the built-in.
REPLACES: dict[str, str] = {
    "booksscraper.middlewares.retry.BackoffRetryMiddleware":
        "scrapy.downloadermiddlewares.retry.RetryMiddleware",
    "booksscraper.middlewares.useragent.UserAgentMiddleware":
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
}


def _entry(components: Mapping[Any, int | None], cls: type) -> tuple[Any, int | None] | None:
    """(key, order) of ``cls`` in a component dict whose keys are classes or import paths."""
    for key, order in components.items():
        if key is cls or (isinstance(key, str) and load_object(key) is cls):
            return key, order
    return None


def replace_builtin(
    settings: BaseSettings, name: str, builtin: type, ours: type, order: int | None
) -> None:
    """Put ``ours`` in place of ``builtin`` in component dict ``name``, unless ours is off.

    Ours goes at ``order``, else at the built-in's position (the project's, else
    Scrapy's); a project that placed ours keeps its position. A built-in the project
    itself placed is replaced with a warning: an explicit choice is not undone silently.
    """
    placed = _entry(settings.getdict(name), ours)
    if placed is not None and placed[1] is None:
        return  # ours switched off: Scrapy's stays as the project has it
    chosen = _entry(settings.getdict(name), builtin)
    base = _entry(settings.getdict(f"{name}_BASE"), builtin)
    position = next((e[1] for e in (chosen, base) if e is not None and e[1] is not None), None)
    if placed is None:
        settings.set_in_component_priority_dict(name, ours, position if order is None else order)
    if chosen is not None and chosen[1] is not None:
        logger.warning(
            "%s replaces %s (order %s in %s); set %s to None in %s to keep Scrapy's",
            ours.__name__, builtin.__module__ + "." + builtin.__name__, chosen[1], name,
            ours.__module__ + "." + ours.__name__, name,
        )
    elif base is not None:
        logger.info("%s takes the place of Scrapy's %s", ours.__name__, builtin.__name__)
    settings.set_in_component_priority_dict(name, builtin, None)


class BooksStack:
    """Adds the project's middlewares, pipelines and extensions to a crawl."""

    def update_settings(self, settings: BaseSettings) -> None:
        for ours, builtin in REPLACES.items():
            replace_builtin(
                settings,
                "DOWNLOADER_MIDDLEWARES",
                load_object(builtin),
                load_object(ours),
                DOWNLOADER_MIDDLEWARES.get(ours),
            )
        for setting, components in (
            ("DOWNLOADER_MIDDLEWARES", DOWNLOADER_MIDDLEWARES),
            ("ITEM_PIPELINES", ITEM_PIPELINES),
            ("EXTENSIONS", EXTENSIONS),
        ):
            for path, order in components.items():
                settings.setdefault_in_component_priority_dict(setting, load_object(path), order)
        for name, value in SCRAPY_SETTINGS.items():
            settings.set(name, value, "addon")
        base = settings.getdict("EXTENSIONS_BASE")
        if not settings.getbool("REMOTE_CONTROL_ENABLED") and REMOTE_CONTROL in base:
            del base[REMOTE_CONTROL]
            settings.set("EXTENSIONS_BASE", base, "addon")
        # The cluster switch (REDIS_URL) sets SCHEDULER and more, so it is an add-on of its own.
        load_object("booksscraper.cluster.addon.ClusterAddon")().update_settings(settings)
        # Every declared default nothing set yet (a command's own value, at "command" priority,
        # stays): `scrapy settings --get NAME` shows what the crawl runs with.
        for setting in SETTINGS:
            if settings.getpriority(setting.name) is None:
                settings.set(setting.name, setting.default, "addon")

"""Every project setting, declared once: name, default, type, one-line meaning.

Alphabetical, like Scrapy's ``default_settings.py``; a comment only where the value needs
a reason. Components read these through ``booksscraper.config.readers``, which take the
default from here; docs/settings.md is generated from this table (``section`` says where).
Scrapy settings the stack changes are set by the add-on (``booksscraper.addon``), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    meaning: str
    section: str


CRAWL, CLEANUP, FETCH, PACING, MONITORING, CLUSTER = (
    "crawl", "cleanup", "fetch", "pacing", "monitoring", "cluster"
)

SETTINGS: tuple[Setting, ...] = (
    Setting("ADAPTIVE_CONCURRENCY_ENABLED", False, bool,
            "the adaptive controller (with AutoThrottle on too: one-line error)", PACING),
    Setting("ADAPTIVE_CONCURRENCY_INTERVAL", 0.5, float, "seconds between control steps", PACING),
    Setting("ADAPTIVE_CONCURRENCY_MAX", 64, int,
            "largest per-slot concurrency (never above `CONCURRENT_REQUESTS`)", PACING),
    Setting("ADAPTIVE_CONCURRENCY_MIN", 1, int, "smallest per-slot concurrency", PACING),
    Setting("ADAPTIVE_CONCURRENCY_START", 2, int, "per-slot concurrency at the start", PACING),
    Setting("ADAPTIVE_CONCURRENCY_TRACE", "", str,
            "file in `OUTPUT_DIR` with one JSON line per slot per step; empty: none", PACING),
    Setting("ADAPTIVE_CPU_MAX", 0.9, float,
            "crawler CPU (fraction of a core) above which concurrency does not grow", PACING),
    Setting("ADAPTIVE_LATENCY_TOLERANCE", 1.5, float,
            "latency up to this x baseline counts as \"no queue\"", PACING),
    Setting("ALERTS_FILE", "alerts.jsonl", str,
            "one alert per line, in `OUTPUT_DIR` (a crawl without an alert does not create "
            "it)", MONITORING),
    Setting("ALERT_WEBHOOK_TIMEOUT", 5.0, float,
            "seconds for the POST of an alert", MONITORING),
    Setting("ALERT_WEBHOOK_URL", "", str,
            "http(s) URL that receives each alert as a JSON POST; empty: none", MONITORING),
    Setting("CHANGES_FILE", "changes.jsonl", str,
            "what changed since the previous run, in `OUTPUT_DIR`", CRAWL),
    Setting("CLEANUP_BATCH_MAX_WAIT", 0.25, float, "seconds a partial batch waits", CLEANUP),
    Setting("CLEANUP_BATCH_SIZE", 25, int, "items per pool task", CLEANUP),
    Setting("CLEANUP_EXTRA_WORK", 0, int, "extra hashing rounds per item, for benchmarks",
            CLEANUP),
    # A few ms each inline (numpy-free MinHash): a crawl of up to 20 books never waits for (or
    # pays for) a worker, and a long crawl's main process pays for 20 items only.
    Setting("CLEANUP_INLINE_ITEMS", 20, int,
            "items cleaned inline, in the crawl process, before the worker pool starts; the "
            "pool starts sooner once the crawl has scheduled more requests than this (a "
            "shorter crawl starts no worker); 0: the pool starts when the spider opens",
            CLEANUP),
    Setting("CLEANUP_MAX_CRASHES", 2, int,
            "retries of an item that killed its worker when running alone", CLEANUP),
    Setting("CLEANUP_MAX_IN_FLIGHT", 1000, int, "most items queued or running", CLEANUP),
    Setting("CLEANUP_NEAR_DUPLICATES", True, bool,
            "signatures and near-duplicate flagging (the index costs ~0.1-0.2 KiB per book in "
            "the main process and ~0.3 KiB on disk; with `JOBDIR`, ~0.4 KiB more in "
            "`JOBDIR/near_duplicates.sqlite`, so a resumed crawl flags against earlier runs' "
            "books; a cluster worker compares only with its own; see BENCHMARKS.md)", CLEANUP),
    Setting("CLEANUP_NEAR_DUPLICATE_THRESHOLD", 0.8, float,
            "estimated Jaccard similarity of word 3-grams", CLEANUP),
    Setting("CLEANUP_START_METHOD", "forkserver", str,
            "`forkserver`, `spawn` or `fork` (not advised)", CLEANUP),
    # None: the number of usable CPUs, known only on the machine that crawls.
    Setting("CLEANUP_WORKERS", None, int,
            "worker processes (unset: usable CPUs); 0 = inline, for debugging", CLEANUP),
    Setting("CLUSTER_CONCURRENCY_KEY", "inflight:%(domain)s", str,
            "Redis key of a domain's in-flight slots", CLUSTER),
    Setting("CLUSTER_CONCURRENCY_POLL", 0.05, float,
            "seconds between tries while the cluster-wide cap is reached", CLUSTER),
    Setting("CLUSTER_HEARTBEAT_TIMEOUT", 4.0, float,
            "seconds without a heartbeat after which a worker is dead and its leased requests go "
            "back to the queue", CLUSTER),
    Setting("CLUSTER_IDLE_BEFORE_CLOSE", 3.0, float,
            "seconds with no cluster work before a worker closes", CLUSTER),
    Setting("CLUSTER_LEASE_SECONDS", 60.0, float, "lease length, renewed every third of it",
            CLUSTER),
    Setting("CLUSTER_MAX_CONCURRENCY_PER_DOMAIN", 0, int,
            "requests in flight per domain, all workers together; 0 = off", CLUSTER),
    Setting("CLUSTER_MAX_RPS_PER_DOMAIN", 0.0, float,
            "requests per second per domain, all workers together; 0 = off", CLUSTER),
    Setting("CLUSTER_POLL_INTERVAL", 0.5, float, "seconds between heartbeat checks of Redis",
            CLUSTER),
    Setting("CLUSTER_RATE_KEY", "ratelimit:%(domain)s", str,
            "Redis key of a domain's request schedule", CLUSTER),
    Setting("CLUSTER_REDIS_LOST_TIMEOUT", 30.0, float,
            "seconds a worker retries an unreachable Redis before it stops (exit 1)", CLUSTER),
    Setting("CLUSTER_REQUIRED", False, bool,
            "no Redis is an error (exit 2), not a standalone crawl (the Dockerfile sets it)",
            CLUSTER),
    Setting("CLUSTER_RPS_BURST", 1.0, float, "requests allowed at once after a quiet spell",
            CLUSTER),
    Setting("FAILURES_FILE", "failures.jsonl", str, "requests given up on, in `OUTPUT_DIR`",
            CRAWL),
    Setting("INCREMENTAL", True, bool,
            "compare with the previous run's books and send conditional requests; False: a plain "
            "full crawl", CRAWL),
    Setting("INCREMENTAL_CONDITIONAL", True, bool,
            "conditional requests (the HTTP cache); False keeps the change report but fetches "
            "every page in full", CRAWL),
    Setting("INCREMENTAL_HISTORY_DIR", "", str,
            "folder of every scope's incremental state, side by side; empty: "
            "`OUTPUT_DIR/incremental`, or for a scrapyd job `incremental` beside the job's "
            "folder (shared by every job)", CRAWL),
    Setting("INCREMENTAL_REDIS_KEY", "incremental:%(spider)s", str,
            "on a cluster, the Redis key prefix of the page cache all workers revalidate "
            "against (kept from crawl to crawl: not under `books:*`)", CLUSTER),
    Setting("LISTING_LOOKAHEAD", 0, int,
            "listing pages fetched ahead of the books they lead to; 0 = auto: 1 + ceil(2 x "
            "`CONCURRENT_REQUESTS` / books per page) (stat `books/listing_lookahead`)", CRAWL),
    Setting("MEMORY_TRIM_INTERVAL", 5.0, float,
            "seconds between glibc `malloc_trim(0)` calls that give freed heap back to the OS "
            "(flat RSS on long crawls); 0 = off; off by itself without glibc", MONITORING),
    Setting("MONITORS_ENABLED", True, bool,
            "run the monitors (at the end and while crawling)", MONITORING),
    Setting("MONITOR_BREAKER_PAGES", 20, int,
            "stop (exit 3) when the first this many book pages all fail on one field; 0 off",
            MONITORING),
    Setting("MONITOR_BREAKER_REJECT_RATE", 0.5, float,
            "stop (exit 3) when this share of the books settled in a periodic window is "
            "rejected", MONITORING),
    Setting("MONITOR_CHECK_INTERVAL", 10.0, float,
            "seconds between periodic monitor checks", MONITORING),
    Setting("MONITOR_ENABLED", True, bool,
            "deprecated name of `RESOURCE_MONITOR_ENABLED` (still read, with a warning)",
            MONITORING),
    Setting("MONITOR_FD_WARN_RATIO", 0.8, float,
            "warn past this share of `RLIMIT_NOFILE`", MONITORING),
    Setting("MONITOR_FIELD_COVERAGE", 0.999, float,
            "each field present and valid in at least this share of the items", MONITORING),
    Setting("MONITOR_FIELD_COVERAGE_BY_FIELD", {"description": 0.95}, dict,
            "per-field coverage thresholds over the default (a few real books have no "
            "description)", MONITORING),
    Setting("MONITOR_FILE", "monitor.jsonl", str, "the resource time series, in `OUTPUT_DIR`",
            MONITORING),
    Setting("MONITOR_FINISH_REASONS",
            "finished,shutdown,cancelled,closespider_itemcount,closespider_pagecount", str,
            "close reasons that pass; a `closespider_timeout` or `closespider_errorcount` is a "
            "safety net that fired", MONITORING),
    Setting("MONITOR_INTERVAL", 1.0, float,
            "seconds between samples (one sample costs ~1.1-1.5 ms)", MONITORING),
    Setting("MONITOR_ITEMS_MIN_RATIO", 0.99, float,
            "books exported over books the site announces, at least", MONITORING),
    Setting("MONITOR_MAX_ERRORS", 0, int,
            "ERROR log lines beyond one per failure", MONITORING),
    Setting("MONITOR_MAX_ERROR_RATE", 0.2, float,
            "share of error responses in an interval (periodic)", MONITORING),
    Setting("MONITOR_MAX_REJECTS_FAILURES_RATIO", 0.01, float,
            "rejects and failures over the catalogue, at most", MONITORING),
    Setting("MONITOR_MAX_SECONDS", 0.0, float,
            "the crawl's duration budget; 0 = off", MONITORING),
    Setting("MONITOR_MAX_THROTTLE_RATE", 0.2, float,
            "share of 429/503 responses in an interval (periodic)", MONITORING),
    Setting("MONITOR_MEMORY_CAP_MB", 0.0, float,
            "RSS of the process tree past which the spider closes (`memory_cap`); 0 = off",
            MONITORING),
    Setting("MONITOR_MEMORY_WARN_MB", 0.0, float,
            "RSS warning level; 0 = 80 % of the cap (no warning without a cap)", MONITORING),
    Setting("MONITOR_RATE_MIN_RESPONSES", 20, int,
            "an interval with fewer responses is not judged", MONITORING),
    Setting("MONITOR_STALL_SECONDS", 300.0, float,
            "no new item for this long fires the stall monitor; 0 = off", MONITORING),
    Setting("MONITOR_SYSTEM_MEMORY_WARN_PERCENT", 90.0, float,
            "warn when the machine's memory use passes this", MONITORING),
    Setting("OUTPUT_DIR", "output", str,
            "folder of every output file; untouched until the crawl's first record, which "
            "first removes the previous crawl's files (not the books files and samples a "
            "`JOBDIR` crawl goes on with)", CRAWL),
    Setting("OUTPUT_ENABLED", True, bool,
            "False: nothing written to `OUTPUT_DIR`; the project's `shell`, `parse`, `check`, "
            "`fetch` and `view` commands set it", CRAWL),
    Setting("OUTPUT_JSON", "books.json", str,
            "the JSON array of every book, in `OUTPUT_DIR` (for every file name: a path out of "
            "it, or a folder, is a one-line error)", CRAWL),
    Setting("OUTPUT_JSONL", "books.jsonl", str, "one book per line, in `OUTPUT_DIR`", CRAWL),
    Setting("POLITENESS_CRAWL_DELAY_MAX", 60.0, float, "longest Crawl-delay applied, seconds",
            PACING),
    Setting("POLITENESS_MAX_RPS", 0.0, float, "maximum requests/s per site (host); 0 = off",
            PACING),
    Setting("POLITENESS_OBEY_CRAWL_DELAY", True, bool,
            "apply robots.txt Crawl-delay (with `ROBOTSTXT_OBEY`)", PACING),
    Setting("PROGRESS", "auto", str,
            "`auto` (bar when stderr is a terminal that no stdout feed shares, log lines "
            "otherwise), `bar`, `log`, `off`", MONITORING),
    Setting("PROGRESS_INTERVAL", 10.0, float, "seconds between progress log lines", MONITORING),
    Setting("PROGRESS_REFRESH", 0.5, float, "seconds between bar redraws", MONITORING),
    Setting("REDIS_HOST", None, str, "scrapy-redis's Redis host, if not `REDIS_URL`", CLUSTER),
    Setting("REDIS_URL", None, str, "turns on cluster mode", CLUSTER),
    Setting("REFETCH_INVALID_PAGES", 2, int,
            "how many more times a page that is not what it should be is fetched: a book page "
            "giving an invalid item, a listing page without books, pager or result count", CRAWL),
    Setting("REJECTS_FILE", "rejects.jsonl", str, "items not exported, in `OUTPUT_DIR`", CRAWL),
    Setting("REPORT_ON_CLOSE", False, bool,
            "build the report when the crawl ends (matplotlib adds 1-2 s)", MONITORING),
    Setting("RESOURCE_MONITOR_ENABLED", True, bool,
            "the resource sampler (`monitor.jsonl`, `monitor/*` stats) on/off; "
            "`MONITORS_ENABLED` switches the monitors", MONITORING),
    Setting("RETRY_AFTER_MAX", 60.0, float, "longest Retry-After honoured, seconds", FETCH),
    Setting("RETRY_BACKOFF_BASE", 0.5, float, "the full-jitter delay law's base, seconds", FETCH),
    Setting("RETRY_BACKOFF_CAP", 30.0, float, "the full-jitter delay law's cap, seconds", FETCH),
    Setting("RETRY_BUDGET_MIN", 10, int, "retries always allowed in the window", FETCH),
    Setting("RETRY_BUDGET_RATIO", 0.3, float, "retries <= ratio x requests in the window",
            FETCH),
    Setting("RETRY_BUDGET_WINDOW", 60.0, float, "the retry budget's window, seconds", FETCH),
    Setting("RETRY_EMPTY_BODY", True, bool, "retry an empty 200", FETCH),
    Setting("RETRY_SLOWDOWN_MAX", 10.0, float,
            "largest extra delay between requests to a site after its 429/503s, seconds", FETCH),
    Setting("RETRY_SLOWDOWN_MIN", 0.05, float,
            "extra delay between requests to a site after a 429/503 from it, seconds (doubles at "
            "most once per delay)", FETCH),
    Setting("RETRY_SLOWDOWN_RECOVERY", 0.8, float,
            "the site's extra delay is multiplied by this after each success", FETCH),
    Setting("ROTATING_PROXY_ALL_DEAD", "wait", str, "`wait` or `close`", FETCH),
    Setting("ROTATING_PROXY_BACKOFF_BASE", 300.0, float,
            "how long a dead proxy rests at first, seconds", FETCH),
    Setting("ROTATING_PROXY_BACKOFF_CAP", 3600.0, float,
            "longest a dead proxy rests, seconds", FETCH),
    Setting("ROTATING_PROXY_BAN_MARKERS", ["SANDBOX-BLOCKED", "<title>Access denied</title>"],
            list, "body texts that mean a ban", FETCH),
    Setting("ROTATING_PROXY_BAN_POLICY", "booksscraper.middlewares.bans.BanPolicy", str,
            "the class that decides what is a ban", FETCH),
    Setting("ROTATING_PROXY_BAN_STATUSES", [403], list, "statuses that mean a ban", FETCH),
    Setting("ROTATING_PROXY_EMPTY_BODY_STRIKES", 3, int,
            "empty pages (or connections dropped) in a row through a proxy that mean a ban",
            FETCH),
    Setting("ROTATING_PROXY_ENV_VAR", "BOOKS_PROXIES", str,
            "environment variable with proxies (after the two below)", FETCH),
    Setting("ROTATING_PROXY_LIST", [], list, "proxies (first source found wins)", FETCH),
    Setting("ROTATING_PROXY_LIST_PATH", None, str, "file of proxies, one a line", FETCH),
    Setting("ROTATING_PROXY_LOGSTATS_INTERVAL", 30.0, float,
            "seconds between proxy pool summaries in the log", FETCH),
    Setting("ROTATING_PROXY_PAGE_RETRY_TIMES", 5, int, "other proxies a banned page tries",
            FETCH),
    # scrapy-redis's settings, with our defaults where they differ (cluster/addon.py).
    Setting("SCHEDULER_DUPEFILTER_KEY", "%(spider)s:dupefilter", str,
            "Redis key of the seen requests; a new one (or delete `books:*`) for a new crawl "
            "on the same Redis", CLUSTER),
    Setting("SCHEDULER_PERSIST", True, bool,
            "keep the queue and fingerprints when a worker closes", CLUSTER),
    Setting("SCHEDULER_QUEUE_KEY", "%(spider)s:requests", str, "Redis key of the queue",
            CLUSTER),
    Setting("SCHEDULER_SERIALIZER", "booksscraper.cluster.serializer", str,
            "requests stored in Redis as JSON (scrapy-redis's default is pickle)", CLUSTER),
    Setting("SHUTDOWN_GRACE", 2.0, float,
            "seconds downloads in progress get after Ctrl-C or SIGTERM before they are aborted",
            CRAWL),
    Setting("STATS_FILE", "stats.json", str, "final stats, in `OUTPUT_DIR`", MONITORING),
    Setting("USER_AGENT_MODE", "identify", str, "`identify`, `rotate` or `per_proxy`", FETCH),
    # None: the shipped booksscraper/data/browser_profiles.json.
    Setting("USER_AGENT_PROFILES_FILE", None, str,
            "`{\"profiles\": [{name, family, headers}]}`; unset: the shipped "
            "`browser_profiles.json`", FETCH),
)

DECLARED: dict[str, Setting] = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """The declared default of project setting ``name`` (KeyError: not declared)."""
    return DECLARED[name].default

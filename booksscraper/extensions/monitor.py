"""Resource monitor: samples the crawl's process tree with psutil.

Every ``MONITOR_INTERVAL`` seconds it measures the crawler process and its
children (the cleanup pool's workers come and go: a child that exits between
listing and measuring is skipped), writes one JSON line per sample to
``MONITOR_FILE`` and keeps peaks and averages in stats. It warns (log WARNING,
stat ``monitor/warning/<kind>``) once each time a threshold is crossed, and
closes the spider with reason ``memory_cap`` past the hard memory cap.

Settings (defaults in brackets):

- ``RESOURCE_MONITOR_ENABLED``: the sampler on or off (``MONITOR_ENABLED``, its old
  name, still works with a deprecation warning; ``MONITORS_ENABLED`` is the monitors').
- ``MONITOR_INTERVAL``: seconds between samples: a memory spike or a descriptor leak
  shows within a second, which Scrapy's own 60 s memusage check does not (the cost
  of a sample: ``tests/monitoring/benchmark_sampling.py``).
- ``MONITOR_FILE``: the time series, in ``OUTPUT_DIR``.
- ``MONITOR_MEMORY_CAP_MB``: hard cap on the RSS of the process
  tree; past it the spider is closed cleanly (pipelines and files closed).
- ``MONITOR_MEMORY_WARN_MB``: warn above this RSS; ``0`` means 80 % of
  the cap when a cap is set, else no RSS warning.
- ``MONITOR_FD_WARN_RATIO``: warn when open descriptors of the main
  process pass this share of its soft ``RLIMIT_NOFILE``.
- ``MONITOR_SYSTEM_MEMORY_WARN_PERCENT``: warn when the machine's
  used memory passes this percentage (other programs can starve the crawl).

Network bytes: Linux has no per-process network counters, so ``net_bytes_*``
are system-wide (``psutil.net_io_counters``, since the crawl started; the
sample says ``"net_scope": "system"``); the crawl's own traffic is
``response_bytes`` (Scrapy's ``downloader/response_bytes``).

Stats: ``monitor/samples``, ``monitor/rss_bytes`` (latest),
``monitor/rss_peak_bytes``, ``monitor/rss_avg_bytes``, ``monitor/cpu_percent_avg``,
``monitor/cpu_percent_peak`` (percent of one core, whole tree),
``monitor/fds_peak``, ``monitor/fds_limit``, ``monitor/threads_peak``,
``monitor/sockets_peak``, ``monitor/children_peak``,
``monitor/system_cpu_percent_avg``, ``monitor/system_memory_percent_peak``,
``monitor/net_bytes_sent``, ``monitor/net_bytes_recv``,
``monitor/warning/{memory,fds,system_memory}``, ``monitor/memory_cap_reached``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from datetime import UTC, datetime
from typing import Any

import psutil
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, ScrapyDeprecationWarning
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import create_looping_call

from booksscraper.compat import schedule_coro
from booksscraper.config.readers import boolean, number
from booksscraper.extensions.counters import crawl_counters
from booksscraper.output.errors import OutputError, stop_on_output_error, stopping_on_output_error
from booksscraper.output.folder import OutputFolder, output_path
from booksscraper.output.jsonlines import JsonLinesWriter

logger = logging.getLogger(__name__)

MB = 1024 * 1024
OLD_SWITCH = "MONITOR_ENABLED"  # the sampler's switch until RESOURCE_MONITOR_ENABLED


def child_pids(pid: int) -> list[int] | None:
    """Direct children of ``pid`` from /proc/<pid>/task/*/children; None where not available.

    psutil's ``children()`` reads the parent of every process of the machine instead.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return [] if os.path.isdir("/proc/self/task") else None  # exited, or no /proc
    pids: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                pids.extend(int(child) for child in f.read().split())
        except FileNotFoundError:
            if os.path.isdir(f"/proc/{pid}/task/{task}"):
                return None  # a kernel without CONFIG_PROC_CHILDREN
        except OSError:
            continue  # the thread ended meanwhile
    return pids


_INET = (socket.AF_INET, socket.AF_INET6)
_TCP_UDP = (socket.SOCK_STREAM, socket.SOCK_DGRAM)


def own_inet_sockets() -> int | None:
    """TCP and UDP sockets (IPv4, IPv6) of this process that have a local port (TCP:
    listening, connecting or connected; UDP: bound), from its own descriptors; None
    without /proc.

    psutil's ``net_connections(kind="inet")`` counts the same, but parses the machine's
    whole socket tables (every TIME_WAIT connection a crawl leaves) at each sample.
    """
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    count = 0
    for name in names:
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=int(name))  # no dup; detached below, never closed
        except OSError:
            continue  # closed meanwhile, or no longer a socket
        try:
            count += (sock.family in _INET and sock.type in _TCP_UDP
                      and sock.getsockname()[1] != 0)
        except OSError:
            continue
        finally:
            sock.detach()
    return count


class ProcessTreeSampler:
    """Measures one process and its live children; keeps psutil objects so that
    ``cpu_percent`` compares against the previous sample of the same process."""

    def __init__(self, pid: int | None = None) -> None:
        self.main = psutil.Process(pid)
        self.fd_limit = self.main.rlimit(psutil.RLIMIT_NOFILE)[0]
        self._children: dict[int, psutil.Process] = {}
        self._net_start = psutil.net_io_counters()
        self.main.cpu_percent(None)
        psutil.cpu_percent(None)

    def _descendants(self) -> list[int]:
        found: list[int] = []
        parents = [self.main.pid]
        while parents:
            children = child_pids(parents.pop())
            if children is None:  # no /proc children files: psutil's way
                return [child.pid for child in self.main.children(recursive=True)]
            found.extend(children)
            parents.extend(children)
        return found

    def sample(self) -> dict[str, Any]:
        with self.main.oneshot():
            rss = self.main.memory_info().rss
            cpu = self.main.cpu_percent(None)
            fds = self.main.num_fds()
            threads = self.main.num_threads()
            sockets = own_inet_sockets() if self.main.pid == os.getpid() else None
            if sockets is None:
                sockets = len(self.main.net_connections(kind="inet"))
        live = {}
        for pid in self._descendants():
            try:
                known = self._children.get(pid) or psutil.Process(pid)
                with known.oneshot():
                    if known.status() == psutil.STATUS_ZOMBIE:
                        continue  # dead, not yet reaped: holds no memory
                    child_rss = known.memory_info().rss
                    child_cpu = known.cpu_percent(None)
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue  # exited (or became a zombie) since we listed it
            live[pid] = known
            rss += child_rss
            cpu += child_cpu
        self._children = live
        memory = psutil.virtual_memory()
        net = psutil.net_io_counters()
        return {
            "rss_bytes": rss,
            "cpu_percent": round(cpu, 1),
            "children": len(live),
            "fds": fds,
            "fd_limit": self.fd_limit,
            "threads": threads,
            "sockets": sockets,
            "system_cpu_percent": psutil.cpu_percent(None),
            "system_memory_percent": memory.percent,
            "system_memory_available_bytes": memory.available,
            "net_scope": "system",
            "net_bytes_sent": net.bytes_sent - self._net_start.bytes_sent,
            "net_bytes_recv": net.bytes_recv - self._net_start.bytes_recv,
        }


def resource_monitor_enabled(settings: BaseSettings) -> bool:
    """RESOURCE_MONITOR_ENABLED, or its old name MONITOR_ENABLED with a deprecation warning."""
    if settings.get("RESOURCE_MONITOR_ENABLED") is None and settings.get(OLD_SWITCH) is not None:
        warnings.warn(
            f"{OLD_SWITCH} is deprecated: use RESOURCE_MONITOR_ENABLED (MONITORS_ENABLED"
            " switches the monitors, not the resource sampler)",
            ScrapyDeprecationWarning,
            stacklevel=2,
        )
        return boolean(settings, OLD_SWITCH)
    return boolean(settings, "RESOURCE_MONITOR_ENABLED")


class ResourceMonitor:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not resource_monitor_enabled(settings):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.interval = number(settings, "MONITOR_INTERVAL", minimum=0.001)
        self.memory_cap = number(settings, "MONITOR_MEMORY_CAP_MB") * MB
        warn_mb = number(settings, "MONITOR_MEMORY_WARN_MB")
        self.memory_warn = warn_mb * MB if warn_mb else 0.8 * self.memory_cap
        self.fd_warn_ratio = number(settings, "MONITOR_FD_WARN_RATIO", maximum=1.0)
        self.system_memory_warn = number(settings, "MONITOR_SYSTEM_MEMORY_WARN_PERCENT")
        self.path = output_path(settings, "MONITOR_FILE")
        self.append = bool(settings.get("JOBDIR"))
        self._writer: JsonLinesWriter | None = None
        self._task: Any = None
        self._sums: dict[str, float] = {}
        self._warned: set[str] = set()
        self._capped = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResourceMonitor:
        return cls(crawler)

    def spider_opened(self) -> None:
        self.sampler = ProcessTreeSampler()
        self.started = time.monotonic()
        self._writer = JsonLinesWriter(
            self.path, append=self.append, output=OutputFolder.for_crawler(self.crawler)
        )
        self.stats.set_value("monitor/fds_limit", self.sampler.fd_limit)
        self._task = create_looping_call(self.tick)
        self._task.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
        if self._writer is not None:
            self.tick()  # the final counters, so the series ends where the crawl did
        if self._writer is not None:
            with stopping_on_output_error(self.crawler):
                self._writer.close()
            self._writer = None

    def tick(self) -> None:
        try:
            sample = self.sampler.sample()
        except psutil.Error as exc:  # never let monitoring break a crawl
            logger.warning("Resource sample failed: %s", exc)
            self.stats.inc_value("monitor/sample_errors")
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "t": round(time.monotonic() - self.started, 3),
            **sample,
            **crawl_counters(self.stats),
        }
        if self._writer is not None:
            try:
                self._writer.write(record)
            except OutputError as exc:
                self._writer = None
                stop_on_output_error(self.crawler, exc)
        self._record_stats(sample)
        self._check_thresholds(sample)

    def _record_stats(self, sample: dict[str, Any]) -> None:
        stats = self.stats
        samples = stats.get_value("monitor/samples", 0) + 1
        stats.set_value("monitor/samples", samples)
        stats.set_value("monitor/rss_bytes", sample["rss_bytes"])
        for key in ("rss_bytes", "cpu_percent", "system_cpu_percent"):
            self._sums[key] = self._sums.get(key, 0.0) + sample[key]
        stats.set_value("monitor/rss_avg_bytes", int(self._sums["rss_bytes"] / samples))
        stats.set_value("monitor/cpu_percent_avg", round(self._sums["cpu_percent"] / samples, 1))
        stats.set_value(
            "monitor/system_cpu_percent_avg",
            round(self._sums["system_cpu_percent"] / samples, 1),
        )
        stats.max_value("monitor/rss_peak_bytes", sample["rss_bytes"])
        stats.max_value("monitor/cpu_percent_peak", sample["cpu_percent"])
        for key in ("fds", "threads", "sockets", "children"):
            stats.max_value(f"monitor/{key}_peak", sample[key])
        stats.max_value("monitor/system_memory_percent_peak", sample["system_memory_percent"])
        stats.set_value("monitor/net_bytes_sent", sample["net_bytes_sent"])
        stats.set_value("monitor/net_bytes_recv", sample["net_bytes_recv"])

    def _check_thresholds(self, sample: dict[str, Any]) -> None:
        rss_mb = sample["rss_bytes"] / MB
        fd_share = sample["fds"] / sample["fd_limit"] if sample["fd_limit"] > 0 else 0.0
        self._warn_once(
            "memory",
            bool(self.memory_warn) and sample["rss_bytes"] > self.memory_warn,
            f"RSS of the crawl is {rss_mb:.0f} MiB, above the warning level of "
            f"{self.memory_warn / MB:.0f} MiB",
        )
        self._warn_once(
            "fds",
            fd_share > self.fd_warn_ratio,
            f"{sample['fds']} open file descriptors, {fd_share:.0%} of the limit of "
            f"{sample['fd_limit']} (RLIMIT_NOFILE)",
        )
        self._warn_once(
            "system_memory",
            sample["system_memory_percent"] > self.system_memory_warn,
            f"the machine's memory is {sample['system_memory_percent']:.0f}% used",
        )
        engine = self.crawler.engine
        # Not while the engine is still starting: a spider closed before the
        # engine runs never gets its engine_stopped (scrapy/scrapy#6916), so
        # close-time work would be skipped. The next sample closes it.
        running = engine is not None and engine.running and engine.spider is not None
        if (
            self.memory_cap
            and sample["rss_bytes"] > self.memory_cap
            and running
            and not self._capped
        ):
            self._capped = True
            self.stats.set_value("monitor/memory_cap_reached", 1)
            logger.error(
                "RSS of the crawl is %.0f MiB, above MONITOR_MEMORY_CAP_MB=%.0f: "
                "closing the spider",
                rss_mb,
                self.memory_cap / MB,
            )
            schedule_coro(engine.close_spider_async(reason="memory_cap"))

    def _warn_once(self, kind: str, crossed: bool, message: str) -> None:
        """Warn when ``kind`` crosses its threshold; again only after it fell back."""
        if crossed and kind not in self._warned:
            self._warned.add(kind)
            self.stats.inc_value(f"monitor/warning/{kind}")
            logger.warning("Resource warning (%s): %s", kind, message)
        elif not crossed:
            self._warned.discard(kind)

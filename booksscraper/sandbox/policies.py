"""Per-client behaviour: token-bucket rate limits, bans, User-Agent policing, fault and delay draws.

Every random choice comes from generators seeded by the catalogue seed, so a run is reproducible
for the same sequence of requests.
"""

from __future__ import annotations

import math
import random

from .config import FAULT_KEYS, PAGE_KINDS, SandboxConfig
from .replies import Reply, banned, error_page, too_many
from .stats import RateWindow


def is_default_scrapy_ua(ua: str) -> bool:
    return "Scrapy/" in ua and "+https://scrapy.org" in ua


class Policies:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        seed = self.config.seed
        self.fault_rng = random.Random(f"faults:{seed}")
        self.jitter_rng = random.Random(f"jitter:{seed}")
        self.buckets: dict[str, tuple[float, float]] = {}  # ip -> (tokens, last refill time)
        self.over: dict[str, int] = {}
        self.banned_ips: set[str] = set()
        self.banned_uas: set[str] = set()
        self.ua_windows: dict[str, RateWindow] = {}
        self.configure(self.config)

    def configure(self, config: SandboxConfig) -> None:
        self.config = config
        self.fault_table = [(k[len("fault_"):], getattr(config, k))
                            for k in FAULT_KEYS if getattr(config, k) > 0]
        self.fault_kinds = frozenset(config.fault_kinds or PAGE_KINDS)
        if config.path_faults != getattr(self, "_armed", None):
            # A new plan of faults on chosen paths: each is served once more.
            self._armed = config.path_faults
            self.path_faults_left = {path: list(faults) for path, faults in
                                     config.path_faults.items()}
        # Nothing to check at all: the fast path skips policies entirely.
        self.active = bool(config.banned_ips or self.banned_ips or self.banned_uas
                           or config.rate_limit or config.block_default_ua or config.ua_max_rps)

    def check(self, ip: str, ua: str, now: float) -> Reply | None:
        """A refusal (ban, 403, 429) for this request, or None to serve it."""
        cfg = self.config
        if ip in self.banned_ips or ip in cfg.banned_ips or ua in self.banned_uas:
            return banned(cfg.ban_response)
        if cfg.block_default_ua and is_default_scrapy_ua(ua):
            return error_page(403)
        if cfg.ua_max_rps:
            window = self.ua_windows.get(ua)
            if window is None:
                window = self.ua_windows[ua] = RateWindow()
            if window.hit(now) > cfg.ua_max_rps:
                if cfg.ua_action == "ban":
                    self.banned_uas.add(ua)
                    self.active = True
                    return banned(cfg.ban_response)
                return too_many(max(1, cfg.retry_after), cfg.retry_after_format)
        if cfg.rate_limit:
            return self._bucket(ip, now)
        return None

    def _bucket(self, ip: str, now: float) -> Reply | None:
        cfg = self.config
        tokens, last = self.buckets.get(ip, (float(cfg.rate_burst), now))
        tokens = min(float(cfg.rate_burst), tokens + (now - last) * cfg.rate_limit)
        if tokens >= 1.0:
            self.buckets[ip] = (tokens - 1.0, now)
            return None
        self.buckets[ip] = (tokens, now)
        self.over[ip] = over = self.over.get(ip, 0) + 1
        if cfg.ban_after and over > cfg.ban_after:
            self.banned_ips.add(ip)
            return banned(cfg.ban_response)
        wait = max(1, math.ceil((1.0 - tokens) / cfg.rate_limit))
        return too_many(wait, cfg.retry_after_format)

    def pick_fault(self, kind: str, path: str) -> str | None:
        """A fault name ("500", "reset", "no_price", ...) for this page, or None."""
        if path in self.config.broken_paths:
            return self.config.broken_paths[path]
        if self.path_faults_left.get(path):
            return self.path_faults_left[path].pop(0)
        if not self.fault_table or kind not in self.fault_kinds:
            return None
        u = self.fault_rng.random()
        for name, rate in self.fault_table:
            if u < rate:
                if name in ("no_price", "bad_rating") and kind != "book":
                    return None  # those variants only exist for book pages
                return name
            u -= rate
        return None

    def delay(self) -> float:
        """Network-like latency in seconds: fixed plus uniform jitter."""
        cfg = self.config
        jitter = self.jitter_rng.uniform(0.0, cfg.jitter_ms) if cfg.jitter_ms else 0.0
        return (cfg.latency_ms + jitter) / 1000.0

"""Command line: flags generated from SandboxConfig; errors are one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from typing import NoReturn

from .config import ConfigError, SandboxConfig

HELP = {
    "books": "number of books (1..1000000)",
    "seed": "catalogue and randomness seed",
    "categories": "number of categories (1..50, the real site's names)",
    "host": "listening address",
    "port": "listening port, 0 picks a free one",
    "latency_ms": "fixed latency added to every catalogue page",
    "jitter_ms": "random extra latency, uniform in [0, jitter]",
    "workers": "capacity: concurrent service slots, 0 = unlimited",
    "service_ms": "service time held under a worker slot",
    "fault_kinds": "comma list of page kinds faults apply to (home,listing,category,book)",
    "retry_after": "Retry-After seconds for the 429 fault",
    "retry_after_format": "Retry-After as 'seconds' or an HTTP 'date'",
    "rate_limit": "per-IP token bucket rate (requests/s), 0 = off",
    "rate_burst": "per-IP token bucket size",
    "ban_after": "ban an IP after this many requests over the limit, 0 = never",
    "banned_ips": "comma list of IPs banned from the start",
    "ban_response": "'403' or '200' (a 200 'Access denied' page)",
    "block_default_ua": "answer 403 to Scrapy's default User-Agent",
    "ua_max_rps": "per-User-Agent requests/s before ua_action, 0 = off",
    "ua_action": "'429' or 'ban' for a User-Agent over ua_max_rps",
    "robots_txt": "robots.txt body (overrides the two below)",
    "robots_disallow": "comma list of Disallow paths for robots.txt",
    "crawl_delay": "Crawl-delay for robots.txt, 0 = none",
    "path_faults": 'JSON object: path -> faults for its next requests, e.g. '
                   '\'{"/catalogue/page-5.html": ["redirect_self"]}\'',
    "broken_paths": 'JSON object: path -> a fault on every request, e.g. \'{"/x.html": "503"}\'',
    "validators": "ETag and Last-Modified on catalogue pages, 304 on a match (--no-validators: "
                  "neither)",
    "changes": 'JSON object: the catalogue changed at run time, e.g. \'{"price": 37, "add": 5, '
               '"remove": 5, "seed": 1}\'',
    "short_listing_pages": "comma list of listing paths that show one book fewer than their "
                           "range",
    "book_link_query": "a query string on every book link of the listing pages, e.g. ?ref=list",
    "renamed_elements": "comma list of book page elements renamed by a layout change (price)",
    "drip_chunk": "bytes per chunk for the drip fault",
    "drip_interval_ms": "pause between drip chunks",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"sandbox: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m booksscraper.sandbox", allow_abbrev=False,
                description="Offline replica of books.toscrape.com with fault injection.")
    p.add_argument("--config", metavar="FILE", help="JSON file of config keys (flags override it)")
    for f in fields(SandboxConfig):
        flag = "--" + f.name.replace("_", "-")
        text = HELP.get(f.name, "fault rate 0..1" if f.name.startswith("fault_") else "")
        if f.type == "bool":
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=text)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            p.add_argument(flag, dest=f.name, type=kind, default=argparse.SUPPRESS, help=text)
    return p


def parse_config(argv: list[str]) -> SandboxConfig:
    args = vars(_parser().parse_args(argv))
    values: dict = {}
    path = args.pop("config", None)
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                values = json.load(fh)
        except (OSError, ValueError) as exc:
            fail(f"--config {path}: {exc}")
        if not isinstance(values, dict):
            fail(f"--config {path}: must hold a JSON object")
    values.update(args)
    try:
        return SandboxConfig().updated(values, runtime=False)
    except ConfigError as exc:
        fail(str(exc))


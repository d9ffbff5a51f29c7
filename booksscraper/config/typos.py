"""Likely typos in ``-s NAME=VALUE`` and ``-a NAME=VALUE``, each one WARNING line.

Scrapy accepts any setting name and passes any spider argument on as an attribute, so
``-s CONCURENT_REQUESTS=4`` or ``-a start_ulr=...`` runs with the default, silently. A
setting name is known when Scrapy, the project (settings.py, the add-on) or the
declaration (``booksscraper.config.declared``) has it; a spider argument when the
spider's ``__init__`` takes it by name (scrapyd's ``_job``, ``_version``... are Scrapy's).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable

from scrapy.settings import BaseSettings, default_settings

from booksscraper.config.declared import DECLARED

# Close enough to be a typo: CONCURENT_REQUESTS ~ CONCURRENT_REQUESTS is 0.97.
CUTOFF = 0.8


def known_settings(settings: BaseSettings) -> set[str]:
    """Scrapy's, the declared and ``settings``' names (call it before ``-s`` adds its own)."""
    names = {name for name in vars(default_settings) if name.isupper()}
    return names | set(DECLARED) | {name for name, _ in settings.items()}


def setting_warnings(names: Iterable[str], known: set[str]) -> list[str]:
    """A warning for each unknown name that is close to a known one."""
    warnings = []
    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=CUTOFF)
        if close:
            warnings.append(f"-s {name}: no such setting; did you mean {close[0]}?")
    return warnings


def spider_arguments(spider_cls: type) -> list[str]:
    """The arguments ``spider_cls.__init__`` takes by name."""
    parameters = inspect.signature(spider_cls.__init__).parameters.values()
    return [p.name for p in parameters if p.name != "self" and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def argument_warnings(names: Iterable[str], spider_cls: type, spider: str) -> list[str]:
    """A warning for each ``-a`` name the spider does not take."""
    accepted = spider_arguments(spider_cls)
    warnings = []
    for name in names:
        if name in accepted or name.startswith("_"):
            continue
        close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else (
            f"it takes {', '.join(accepted)}" if accepted else "it takes none")
        warnings.append(f"-a {name}: spider {spider} has no such argument; {hint}")
    return warnings

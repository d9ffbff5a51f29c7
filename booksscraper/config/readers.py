"""Typed readers of settings: the value, checked, or one ``BadConfig`` line naming the setting.

The readers without a ``default`` argument (``number``, ``whole_number``, ``boolean``,
``choice``, ``text``, ``text_list``) take it from ``booksscraper.config.declared``: a
component never carries a literal default. ``number_setting``, ``int_setting`` and
``choice_setting`` take one, for Scrapy's own settings and the modules not converted yet.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from scrapy.settings import BaseSettings

from booksscraper.config.declared import default
from booksscraper.config.errors import BadConfig


def number(
    settings: BaseSettings, name: str, *, minimum: float = 0.0, maximum: float | None = None
) -> float:
    """Declared setting ``name`` as a finite float in [minimum, maximum]."""
    return number_setting(settings, name, default(name), minimum=minimum, maximum=maximum)


def whole_number(settings: BaseSettings, name: str, *, minimum: int = 0) -> int:
    """Declared setting ``name`` as an integer >= minimum."""
    return int_setting(settings, name, default(name), minimum=minimum)


def boolean(settings: BaseSettings, name: str) -> bool:
    """Declared setting ``name`` as a bool (``True``/``False``, ``1``/``0``, ``true``/``false``)."""
    try:
        return settings.getbool(name, default(name))
    except ValueError:
        raise BadConfig(f"{name}: expected True or False, got {settings.get(name)!r}") from None


def choice(settings: BaseSettings, name: str, allowed: tuple[str, ...]) -> str:
    """Declared setting ``name``, one of ``allowed``."""
    return choice_setting(settings, name, default(name), allowed)


def text(settings: BaseSettings, name: str) -> Any:
    """Declared setting ``name`` as given (a string, or the declared default when unset)."""
    value = settings.get(name)
    return default(name) if value is None else value


def text_list(settings: BaseSettings, name: str) -> list[Any]:
    """Declared setting ``name`` as a list (a comma-separated string is split)."""
    return settings.getlist(name, default(name))


def number_setting(
    settings: BaseSettings,
    name: str,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
) -> float:
    """``settings[name]`` as a finite float in [minimum, maximum], else BadConfig."""
    raw = settings.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadConfig(f"{name}: expected a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum:g}" if maximum is not None else ""
        raise BadConfig(f"{name}: must be >= {minimum:g}{upper}, got {raw!r}")
    return value


def int_setting(
    settings: BaseSettings, name: str, default: int, *, minimum: int | None = 0
) -> int:
    """``settings[name]`` as an integer >= minimum (None: any integer), else BadConfig."""
    raw = settings.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadConfig(f"{name}: expected an integer, got {raw!r}") from None
    if value != float(raw):
        raise BadConfig(f"{name}: expected an integer, got {raw!r}")
    if minimum is not None and value < minimum:
        raise BadConfig(f"{name}: must be an integer >= {minimum}, got {raw!r}")
    return value


def log_level_setting(settings: BaseSettings, name: str, default: str) -> int:
    """``settings[name]`` as a logging level (a name such as ``ERROR``, or a number)."""
    raw = settings.get(name, default)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    level = logging.getLevelName(raw.upper()) if isinstance(raw, str) else None
    if not isinstance(level, int):
        raise BadConfig(f"{name}: expected a logging level such as ERROR or INFO, got {raw!r}")
    return level


def choice_setting(
    settings: BaseSettings, name: str, default: str, allowed: tuple[str, ...]
) -> str:
    value = settings.get(name, default)
    if value not in allowed:
        raise BadConfig(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return value

"""Setting checks shared by the middlewares: a bad value is one ``BadConfig`` line naming it."""

from __future__ import annotations

import math

from scrapy.settings import BaseSettings

from booksscraper.errors import BadConfig


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


def int_setting(settings: BaseSettings, name: str, default: int, *, minimum: int = 0) -> int:
    """``settings[name]`` as an integer >= minimum, else BadConfig."""
    raw = settings.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadConfig(f"{name}: expected an integer, got {raw!r}") from None
    if value != float(raw) or value < minimum:
        raise BadConfig(f"{name}: must be an integer >= {minimum}, got {raw!r}")
    return value


def choice_setting(
    settings: BaseSettings, name: str, default: str, allowed: tuple[str, ...]
) -> str:
    value = settings.get(name, default)
    if value not in allowed:
        raise BadConfig(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return value

"""Batch functions the pool tests run in worker processes (importable by spawned workers)."""

from __future__ import annotations

import os
import time


def double(payloads: list[int]) -> list[int]:
    return [p * 2 for p in payloads]


def slow_double(payloads: list[int]) -> list[int]:
    time.sleep(0.02 * len(payloads))
    return [p * 2 for p in payloads]


def pid_and_double(payloads: list[int]) -> list[tuple[int, int]]:
    return [(os.getpid(), p * 2) for p in payloads]


def die_on_poison(payloads: list[object]) -> list[object]:
    """Kills its own worker (as a segfault or the OOM killer would) on "poison"."""
    if "poison" in payloads:
        os._exit(1)
    return [f"ok:{p}" for p in payloads]

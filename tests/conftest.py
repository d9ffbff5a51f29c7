"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One 1000-book sandbox (no faults) for the whole run; tests must not reconfigure it."""
    from booksscraper.sandbox.testing import running_sandbox

    with running_sandbox(books=1000, seed=7) as server:
        yield server


@pytest.fixture(scope="session")
def sandbox_truth(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.truth()

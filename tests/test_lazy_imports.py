"""The crawl's process imports no heavy library until it is used (start-up near plain Scrapy)."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.startup import HEAVY, IMPORT_STACK, REPORT_HEAVY
from tests.helpers import REPO


def test_the_stack_imports_no_heavy_library() -> None:
    # Every component the add-on switches on, imported in a fresh interpreter.
    result = subprocess.run([sys.executable, "-c", f"{IMPORT_STACK}; {REPORT_HEAVY}"],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at start-up: {result.stdout.strip()}"
    assert set(HEAVY) == {"numpy", "matplotlib", "rich", "ftfy", "redis"}


def test_the_near_duplicate_index_needs_no_numpy() -> None:
    code = ("from booksscraper.cleanup.signature import NearDuplicateIndex; import sys; "
            "i = NearDuplicateIndex(); i.add('a', bytes(256)); i.add('b', bytes(256)); "
            "print('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cleaning_an_item_inline_needs_no_numpy() -> None:
    # The first items of a crawl are cleaned in its own process (CLEANUP_INLINE_ITEMS).
    code = ("from booksscraper.cleanup import CleanupOptions, clean_batch; import sys; "
            "[(ok, out)] = clean_batch([{'description': 'A tale of two cities and one more', "
            "'title': 'T', 'price': None}], CleanupOptions()); "
            "print(ok, out['_signature'] is not None, 'numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=False)
    assert result.stdout.split() == ["True", "True", "False"], result.stderr

"""Installing like any Python project: `pip install -r requirements.txt` and `pip install .`.

Fresh venvs, installed with the pinned uv from its cache (``--offline``: what `make venv`
already downloaded); where the cache lacks a package the test skips and says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow
UV = Path(sys.executable).parent / "uv"


def fresh_venv(path: Path) -> Path:
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, path], check=True,
                   capture_output=True, timeout=120)
    return path / "bin" / "python"


def uv_install(python: Path, *args: str | Path) -> None:
    result = subprocess.run([UV, "pip", "install", "-q", "--offline", "--python", python, *args],
                            capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0 and "offline" in result.stderr.lower():
        pytest.skip(f"not in uv's cache (network needed): {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr


def test_requirements_txt_is_the_hash_checked_runtime_lock(tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    uv_install(python, "--require-hashes", "-r", REPO / "requirements.txt")
    listed = subprocess.run([python.parent / "scrapy", "list"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=True)
    assert listed.stdout.split() == ["books"]


def test_pip_install_dot_brings_the_runtime_dependencies(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: the build leaves build/ and *.egg-info behind
    for name in ("setup.py", "MANIFEST.in", "requirements/runtime.in"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "booksscraper", source / "booksscraper",
                    ignore=shutil.ignore_patterns("__pycache__"))
    python = fresh_venv(tmp_path / "venv")
    uv_install(python, source)
    imported = subprocess.run(
        [python, "-c", "import booksscraper.spiders.books as m; print(m.BooksSpider.name)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "books"

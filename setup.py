"""The egg `scrapyd-deploy` builds and uploads to scrapyd: what a job runs, nothing more.

scrapyd runs the egg as a zip file: modules load from it, and data files
(``booksscraper/data/*.json``) are inside it only because of ``package_data``
below; code must read them with ``importlib.resources``, not ``open(__file__...)``.
Left out, because no job imports them: the offline sandbox, the command-line
tools (``make jobs``... run them from the working tree) and the report
(matplotlib is not in scrapyd's environment: draw it afterwards with
``make report OUTPUT_DIR=...``).

The same file makes ``pip install .`` work like any Python project's: it installs the
runtime dependencies, read from ``requirements/runtime.in`` (MANIFEST.in ships it in an sdist).
"""

from pathlib import Path

from setuptools import find_packages, setup

# The runtime set's direct dependencies, from the file `make lock` locks (one source):
# `pip install .` installs what a crawl imports.
RUNTIME = Path(__file__).resolve().parent / "requirements" / "runtime.in"


def runtime_requirements() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in RUNTIME.read_text().splitlines())
    return [line for line in lines if line]


# Packages a crawl never imports (tests/scrapyd/test_scrapyd.py checks the egg).
NOT_IN_EGG = ["booksscraper.sandbox", "booksscraper.tools", "booksscraper.report"]

setup(
    name="booksscraper",
    version="0.1",
    packages=find_packages(
        include=["booksscraper", "booksscraper.*"],
        exclude=[name + suffix for name in NOT_IN_EGG for suffix in ("", ".*")],
    ),
    package_data={"booksscraper": ["data/*.json"]},
    install_requires=runtime_requirements(),
    python_requires=">=3.11",
    entry_points={"scrapy": ["settings = booksscraper.settings"]},
)

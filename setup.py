"""The egg `scrapyd-deploy` builds and uploads to scrapyd: what a job runs, nothing more.

scrapyd runs the egg as a zip file: modules load from it, and data files
(``booksscraper/data/*.json``) are inside it only because of ``package_data``
below; code must read them with ``importlib.resources``, not ``open(__file__...)``.
Left out, because no job imports them: the offline sandbox, the command-line
tools (``make jobs``... run them from the working tree) and the report
(matplotlib is not in scrapyd's environment: draw it afterwards with
``make report OUTPUT_DIR=...``).
"""

from setuptools import find_packages, setup

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
    entry_points={"scrapy": ["settings = booksscraper.settings"]},
)

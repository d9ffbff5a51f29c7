"""The egg `scrapyd-deploy` builds and uploads to scrapyd.

scrapyd runs the egg as a zip file: modules load from it, and data files
(``booksscraper/data/*.json``) are inside it only because of ``package_data``
below; code must read them with ``importlib.resources``, not ``open(__file__...)``.
"""

from setuptools import find_packages, setup

setup(
    name="booksscraper",
    version="0.1",
    packages=find_packages(include=["booksscraper", "booksscraper.*"]),
    package_data={"booksscraper": ["data/*.json"]},
    entry_points={"scrapy": ["settings = booksscraper.settings"]},
)

"""Security audit: no unpickling outside JOBDIR, no consoles, bounded downloads, no leaks."""

from __future__ import annotations

import base64
import configparser
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from booksscraper.cluster import serializer as cluster_json
from booksscraper.cluster.scheduler import ClusterScheduler
from tests.helpers import REPO, run_crawl
from tests.middlewares.conftest import PROXY_PASSWORD, PROXY_USER, free_port

# Modules that turn bytes into code or objects; eval/exec and friends do the same with text.
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                  "jsonpickle", "yaml"}
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}
# No exception: not even JOBDIR state (a resumed run starts from the output, not from it).
ALLOWED: set[tuple[str, str]] = set()


# The scan parses in a fresh interpreter: CPython 3.11's ast module keeps its
# recursion-depth count in shared state that an earlier error can leave off
# (gh-106905), after which every ast.parse in that process raises SystemError.
SCAN = """
import ast, json, sys
unsafe = set(json.loads(sys.argv[1]))
found = []
for path in sys.argv[2:]:
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names = [node.func.id]
        else:
            continue
        found += [(path, n.split(".")[0]) for n in names if n.split(".")[0] in unsafe]
print(json.dumps(found))
"""


def unsafe_uses(paths: list[Path], root: Path = REPO) -> set[tuple[str, str]]:
    names = json.dumps(sorted(UNSAFE_MODULES | UNSAFE_CALLS))
    result = subprocess.run(
        [sys.executable, "-c", SCAN, names, *map(str, paths)],
        capture_output=True, text=True, check=True, timeout=120,
    )
    return {
        (Path(path).relative_to(root).as_posix(), name)
        for path, name in json.loads(result.stdout)
    }


def test_nothing_is_unpickled_or_evaluated() -> None:
    assert unsafe_uses(sorted((REPO / "booksscraper").rglob("*.py"))) == ALLOWED


def test_the_audit_would_see_a_pickle(tmp_path: Path) -> None:
    planted = tmp_path / "booksscraper" / "probe.py"
    planted.parent.mkdir()
    planted.write_text("from pickle import loads\nimport yaml.loader\nx = eval('1')\n")
    assert unsafe_uses([planted], tmp_path) == {
        ("booksscraper/probe.py", "pickle"), ("booksscraper/probe.py", "yaml"),
        ("booksscraper/probe.py", "eval"),
    }


def test_the_cluster_queue_is_json_by_default() -> None:
    crawler = get_crawler(Spider, {"REDIS_URL": "redis://127.0.0.1:1/0",
                                   "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter"})
    scheduler = ClusterScheduler.from_crawler(crawler)  # no connection until the crawl opens
    assert scheduler.serializer is cluster_json


def test_no_console_and_bounded_downloads_in_the_settings() -> None:
    settings = get_project_settings()
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False
    assert 0 < settings.getint("DOWNLOAD_WARNSIZE") < settings.getint("DOWNLOAD_MAXSIZE")
    assert settings.getint("DOWNLOAD_MAXSIZE") <= 64 * 1024 * 1024  # Scrapy's default is 1 GiB


def test_scrapyd_listens_on_loopback_and_its_config_holds_no_password() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / "scrapyd.conf")
    assert config["scrapyd"]["bind_address"] == "127.0.0.1"
    assert config["scrapyd"]["username"] == "" and config["scrapyd"]["password"] == ""


@pytest.mark.timeout(120)
def test_a_crawl_opens_no_console_and_leaks_no_proxy_password_on_error_paths(
    sandbox: Any, sandbox_truth: list[dict[str, Any]], tinyproxies, tmp_path: Path
) -> None:
    """Every proxy fails (one refuses connections, one rejects our password): errors,
    exceptions, the failures file and the DEBUG log must not show the password."""
    wrong = tinyproxies.start("127.0.0.2", auth=True).replace(PROXY_PASSWORD, "Wr0ng-pass-77")
    dead = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{free_port()}"
    out = tmp_path / "out"
    result = run_crawl(
        sandbox_truth[0]["url"], out,
        "-s", f"ROTATING_PROXY_LIST={dead},{wrong}",
        "-s", "ROTATING_PROXY_ALL_DEAD=close",
        "-s", "LOG_LEVEL=DEBUG",
        timeout=100,
    )
    assert result.returncode == 1, result.stderr[-3000:]  # nothing could be fetched
    assert "all_proxies_dead" in result.stderr or "could not be fetched" in result.stderr
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    everything = result.stdout + result.stderr + written
    for secret in (PROXY_PASSWORD, "Wr0ng-pass-77"):
        assert secret not in everything
        # Nor as the Proxy-Authorization header would carry it.
        token = base64.b64encode(f"{PROXY_USER}:{secret}".encode()).decode()
        assert token not in everything
    assert f"{PROXY_USER}:***@" in result.stderr  # the proxy is named, masked
    # No console of any kind was started.
    assert "Telnet console listening" not in result.stderr
    assert "TelnetConsole" not in result.stderr and "RemoteControl" not in result.stderr

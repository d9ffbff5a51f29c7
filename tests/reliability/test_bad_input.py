"""Bad input not covered elsewhere: unreadable files, scrapyd down at deploy time.

Each must stop with one clear line and no traceback. (Bad start URLs, Scrapy numeric settings,
malformed proxy URLs, unreachable Redis and the rest are tested in their areas: see
RELIABILITY.md.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, SCRAPYD_VENV, free_port, make_scrapyd_venv, run_crawl

pytestmark = pytest.mark.timeout(120)
# Nothing listens there: a crawl that got as far as a request would fail, not hang.
NOWHERE = "http://127.0.0.1:9/"


def assert_one_line_error(result: subprocess.CompletedProcess[str], starts: str) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {starts}"), last
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [last]
    assert "Traceback" not in result.stderr
    return last


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda folder: folder / "missing.json", "cannot read"),
        (lambda folder: folder, "cannot read"),  # a directory
        (lambda folder: _written(folder / "profiles.json", "Mozilla/5.0\n"), "is not valid JSON"),
    ],
    ids=["missing", "directory", "not-json"],
)
def test_unreadable_user_agent_file(tmp_path: Path, make_file, message: str) -> None:
    path = make_file(tmp_path)
    result = run_crawl(
        NOWHERE, tmp_path / "out",
        "-s", "USER_AGENT_MODE=rotate", "-s", f"USER_AGENT_PROFILES_FILE={path}",
    )
    line = assert_one_line_error(result, "USER_AGENT_PROFILES_FILE: ")
    assert message in line and str(path) in line


def test_proxy_list_path_that_is_a_directory(tmp_path: Path) -> None:
    result = run_crawl(NOWHERE, tmp_path / "out", "-s", f"ROTATING_PROXY_LIST_PATH={tmp_path}")
    line = assert_one_line_error(result, "ROTATING_PROXY_LIST_PATH: ")
    assert "cannot read proxy file" in line


def test_scrapyd_down_at_deploy_time_is_one_clear_line(tmp_path: Path) -> None:
    make_scrapyd_venv()
    password = "deploy-Secret-42"
    port = free_port()  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "scrapy.cfg").write_text(
        f"[deploy:down]\nurl = {url}\nproject = booksscraper\n"
        "username = ${SCRAPYD_USERNAME}\npassword = ${SCRAPYD_PASSWORD}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYD_")}
    env.pop("PYTHONPATH", None)
    env.update(XDG_CONFIG_HOME=str(tmp_path), SCRAPYD_USERNAME="booksscraper",
               SCRAPYD_PASSWORD=password)
    result = subprocess.run(
        [str(SCRAPYD_VENV / "bin" / "scrapyd-deploy"), "down"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    failed = [line for line in output.splitlines() if line.startswith("Deploy failed")]
    assert len(failed) == 1, output
    assert f"port={port}" in failed[0]
    assert "Connection refused" in failed[0]
    assert "Traceback" not in output
    assert password not in output

"""`books` on a real scrapyd: deploy, schedule with overrides, items, logs, cancel, auth."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import read_lines
from tests.scrapyd.conftest import USERNAME, Scrapyd, scrapyd_deploy

pytestmark = pytest.mark.timeout(240)


def overridden_settings(log: str) -> str:
    """The dict Scrapy logs after "Overridden settings:" (up to its closing brace)."""
    match = re.search(r"Overridden settings:\n(\{.*?\})\n", log, re.DOTALL)
    assert match, "no 'Overridden settings' in the job's log"
    return match.group(1)


def schedule(scrapyd: Scrapyd, *options: str) -> str:
    result = scrapyd.tool("schedule", *options)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def job_listing(scrapyd: Scrapyd, job_id: str) -> tuple[str, str]:
    """(outcome, reason) of ``job_id`` as `make jobs` shows it, after checking the header row."""
    listed = scrapyd.tool("jobs")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["OUTCOME", "JOB", "STARTED", "ENDED", "REASON"]
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line, maxsplit=4)
        if cells[1] == job_id:
            return cells[0], cells[4] if len(cells) > 4 else ""
    raise AssertionError(f"{job_id} not in:\n{listed.stdout}")


def assert_no_password(scrapyd: Scrapyd, *texts: str) -> None:
    for text in (scrapyd.console_text(), *texts):
        assert scrapyd.password not in text


def test_requests_without_the_right_credentials_are_refused(
    scrapyd: Scrapyd, deploy_config: Path
) -> None:
    status = f"{scrapyd.url}/daemonstatus.json"
    assert requests.get(status, timeout=10).status_code == 401
    assert requests.get(status, auth=(USERNAME, "wrong"), timeout=10).status_code == 401
    assert requests.get(status, auth=scrapyd.auth, timeout=10).status_code == 200

    refused = requests.post(f"{scrapyd.url}/schedule.json", timeout=10, data={
        "project": "booksscraper", "spider": "books", "jobid": "unauthenticated"})
    assert refused.status_code == 401
    assert scrapyd.api("daemonstatus")["pending"] == 0

    # scrapyd-deploy with the credentials variables empty sends none: refused.
    result = scrapyd_deploy(scrapyd, deploy_config, SCRAPYD_USERNAME="", SCRAPYD_PASSWORD="")
    assert result.returncode == 1
    assert "Deploy failed (401)" in result.stderr
    # The job tool says why, without echoing the password it was given.
    wrong = scrapyd.tool("jobs", SCRAPYD_PASSWORD="not-the-password")
    assert wrong.returncode == 1
    assert "Unauthorized" in wrong.stderr
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert_no_password(scrapyd, result.stdout, result.stderr)


def test_scrapyd_deploy_uploads_an_egg_with_code_and_data(
    scrapyd: Scrapyd, deployed: subprocess.CompletedProcess[str]
) -> None:
    assert json.loads(deployed.stdout)["status"] == "ok"
    assert scrapyd.api("listspiders", project="booksscraper")["spiders"] == ["books"]
    eggs = sorted((scrapyd.home / "eggs" / "booksscraper").glob("*.egg"))
    assert len(eggs) == 1
    names = set(zipfile.ZipFile(eggs[0]).namelist())
    assert {"booksscraper/settings.py", "booksscraper/spiders/books.py",
            "booksscraper/commands/crawl.py", "booksscraper/data/browser_profiles.json"} <= names
    assert not any(name.startswith("tests/") for name in names)
    # Only what a job runs: no sandbox, command-line tools or report (setup.py).
    assert not any(name.startswith(("booksscraper/sandbox/", "booksscraper/tools/",
                                    "booksscraper/report/")) for name in names)
    assert_no_password(scrapyd, deployed.stdout, deployed.stderr)


# Imports every module of the egg as a scrapyd job would: the egg alone on the path, beside
# scrapyd's environment, away from the working tree.
IMPORT_EACH = """
import importlib, sys, zipfile
egg = sys.argv[1]
sys.path.insert(0, egg)
failed = []
for name in sorted(zipfile.ZipFile(egg).namelist()):
    if name.startswith("booksscraper/") and name.endswith(".py"):
        module = name[:-3].replace("/", ".").removesuffix(".__init__")
        try:
            importlib.import_module(module)
        except Exception as exc:
            failed.append(f"{module}: {type(exc).__name__}: {exc}")
assert all(m.__file__.startswith(egg) for n, m in sys.modules.items()
           if n.startswith("booksscraper") and getattr(m, "__file__", None)), "not from the egg"
print("\\n".join(failed))
"""


def test_every_module_of_the_egg_imports_without_what_it_leaves_out(
    scrapyd: Scrapyd, scrapyd_venv: Path, deployed: Any, tmp_path: Path
) -> None:
    """The egg has no sandbox, tools or report: no module it ships may need them."""
    (egg,) = sorted((scrapyd.home / "eggs" / "booksscraper").glob("*.egg"))
    result = subprocess.run(
        [str(scrapyd_venv / "bin" / "python"), "-c", IMPORT_EACH, str(egg)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "", result.stdout


@pytest.mark.slow
def test_scheduled_job_crawls_every_book_with_its_setting_override(
    scrapyd: Scrapyd, deployed: Any, sandbox: Any, sandbox_truth: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    # The last ten listing pages (200 books): a job, not the catalogue, is what is tested.
    job_id = schedule(scrapyd, "--setting", "CONCURRENT_REQUESTS=4",
                      "--arg", f"start_url={sandbox.base_url}catalogue/page-41.html")
    job = scrapyd.wait_for(job_id, "finished", timeout=150)
    truth = sorted(sandbox_truth, key=lambda t: -t["book_id"])[800:]  # 20 a page
    # scrapyd logs "Process finished" for exit status 0, "Process died" otherwise.
    assert f"Process finished: project='booksscraper' spider='books' job='{job_id}'" in \
        scrapyd.console_text()

    # The items feed scrapyd serves (what `make items JOB=...` fetches)...
    items_file = tmp_path / "items.jl"
    fetched = scrapyd.tool("items", job_id, "--output", str(items_file))
    assert fetched.returncode == 0, fetched.stderr
    assert job["items_url"] == f"/items/booksscraper/books/{job_id}.jl"
    assert differences(read_lines(items_file), truth) == []
    # ...and the crawl's own output, in the job's OUTPUT_DIR under scrapyd's home.
    output = scrapyd.home / "output" / job_id
    books = json.loads((output / "books.json").read_text(encoding="utf-8"))
    assert differences(books, truth) == []
    assert read_lines(output / "rejects.jsonl") == []

    log = scrapyd.tool("log", job_id)
    assert log.returncode == 0, log.stderr
    assert "'CONCURRENT_REQUESTS': '4'" in overridden_settings(log.stdout)
    assert "Spider closed (finished)" in log.stdout
    listed = job_listing(scrapyd, job_id)
    assert listed == ("finished", ""), listed[1]
    assert (scrapyd.home / "logs" / "booksscraper" / "books" / f"{job_id}.log").exists()
    assert_no_password(scrapyd, log.stdout, fetched.stdout, fetched.stderr)


def test_jobs_shows_a_failed_job_with_its_reason(scrapyd: Scrapyd, deployed: Any) -> None:
    job_id = schedule(scrapyd, "--setting", "PROGRESS=sideways",
                      "--arg", "start_url=http://127.0.0.1:9/")
    scrapyd.wait_for(job_id, "finished", timeout=60)
    outcome, reason = job_listing(scrapyd, job_id)
    assert outcome == "failed"
    assert reason.startswith("PROGRESS: must be one of"), reason


def test_jobs_shows_a_job_whose_monitors_failed(
    scrapyd: Scrapyd, deployed: Any, sandbox: Any, sandbox_truth: list[dict[str, Any]],
) -> None:
    book = sandbox_truth[0]["url"]  # one book page: a job of a second
    job_id = schedule(scrapyd, "--setting", "MONITOR_MAX_SECONDS=0.001",
                      "--arg", f"start_url={book}")
    scrapyd.wait_for(job_id, "finished", timeout=60)
    outcome, reason = job_listing(scrapyd, job_id)
    assert outcome == "failed"
    assert reason.startswith("monitors failed: duration: "), reason


def job_process_tree(scrapyd: Scrapyd, job_id: str, timeout: float) -> list[psutil.Process]:
    """The running job's crawl process and its descendants, once a cleanup worker is up.

    The pool starts its forkserver (and multiprocessing's resource tracker) when
    the crawl opens, and forks workers from the forkserver on the first batches
    of items: a grandchild of the crawl process is a worker.
    """
    pid = scrapyd.wait_for(job_id, "running", timeout=60)["pid"]
    crawl = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        descendants = crawl.children(recursive=True)
        with contextlib.suppress(psutil.NoSuchProcess):
            if any(process.ppid() != pid for process in descendants):
                return [crawl, *descendants]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id}: no cleanup worker process after {timeout} s")


@pytest.mark.slow
def test_cancel_stops_a_running_job_and_every_process_it_started(
    scrapyd: Scrapyd, deployed: Any
) -> None:
    # 200 ms per page at 4 concurrent requests: ~50 s for the whole catalogue.
    with running_sandbox(books=1000, seed=7, latency_ms=200) as slow_site:
        job_id = schedule(
            scrapyd,
            "--setting", "CONCURRENT_REQUESTS=4",
            "--setting", 'ITEM_PIPELINES={"booksscraper.pipelines.cleanup.CleanupPipeline": 300}',
            "--setting", "CLEANUP_WORKERS=2",
            "--setting", "CLEANUP_START_METHOD=forkserver",
            "--arg", f"start_url={slow_site.base_url}",
        )
        tree = job_process_tree(scrapyd, job_id, timeout=60)
        # Cancel mid-crawl: once some books are out (workers may start before any item).
        jsonl = scrapyd.home / "output" / job_id / "books.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (jsonl.exists() and b"\n" in jsonl.read_bytes()):
            time.sleep(0.2)

        cancelled = scrapyd.tool("cancel", job_id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert "it was running" in cancelled.stdout
        scrapyd.wait_for(job_id, "finished", timeout=60)
        _, alive = psutil.wait_procs(tree, timeout=20)
        assert alive == [], f"left running after cancel: {[p.info for p in alive]}"

    log = scrapyd.tool("log", job_id).stdout
    assert "Spider closed (shutdown)" in log
    assert job_listing(scrapyd, job_id) == ("cancelled", "")
    exported = read_lines(scrapyd.home / "output" / job_id / "books.jsonl")
    assert 0 < len(exported) < 1000


def test_rotating_user_agents_work_from_the_egg(
    scrapyd: Scrapyd, deployed: Any, sandbox: Any, sandbox_truth: list[dict[str, Any]]
) -> None:
    job_id = schedule(scrapyd, "--setting", "USER_AGENT_MODE=rotate",
                      "--arg", f"start_url={sandbox_truth[0]['url']}")
    scrapyd.wait_for(job_id, "finished", timeout=60)
    assert f"Process finished: project='booksscraper' spider='books' job='{job_id}'" in \
        scrapyd.console_text()


@pytest.mark.slow
def test_jobs_compare_with_the_last_finished_job_past_a_cancelled_one(
    scrapyd: Scrapyd, deployed: Any
) -> None:
    """`make schedule` gives each job OUTPUT_DIR=output/<job>; the history is shared."""
    with running_sandbox(books=100, seed=17, latency_ms=30) as site:
        first = schedule(scrapyd, "--arg", f"start_url={site.base_url}")
        scrapyd.wait_for(first, "finished", timeout=120)
        site.configure(changes={"price": 3, "add": 1, "remove": 1, "seed": 5})
        # Paced to 5 pages a second: still running when cancelled, however loaded the machine.
        cancelled = schedule(scrapyd, "--setting", "POLITENESS_MAX_RPS=5",
                             "--arg", f"start_url={site.base_url}")
        jsonl = scrapyd.home / "output" / cancelled / "books.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                jsonl.exists() and jsonl.read_bytes().count(b"\n") >= 5):
            time.sleep(0.1)
        assert scrapyd.tool("cancel", cancelled).returncode == 0
        scrapyd.wait_for(cancelled, "finished", timeout=60)
        third = schedule(scrapyd, "--arg", f"start_url={site.base_url}")
        scrapyd.wait_for(third, "finished", timeout=120)
        truth = [json.loads(line) for line in site._call("__changes.jsonl").splitlines()]
    assert job_listing(scrapyd, cancelled)[0] == "cancelled"
    changes = read_lines(scrapyd.home / "output" / third / "changes.jsonl")
    assert sorted((c["upc"], c["change"]) for c in changes) == sorted(
        (t["upc"], t["change"]) for t in truth)

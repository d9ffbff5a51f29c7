"""Schedule, list, cancel `books` jobs on scrapyd and fetch their items and logs.

Used by the Makefile's scrapyd targets; runs with scrapyd's venv
(``.venv-scrapyd/bin/python -m booksscraper.tools.scrapyd_jobs ...``), which
has scrapyd-client, whose ``ScrapydClient`` makes the API calls.

    schedule [--setting NAME=VALUE]... [--arg NAME=VALUE]... [--jobid ID]
    jobs
    items JOB [--output FILE]
    log JOB [--output FILE]
    cancel JOB

Environment:

- ``SCRAPYD_URL`` [``http://127.0.0.1:6800``]: scrapyd's address, no trailing slash.
- ``SCRAPYD_USERNAME``, ``SCRAPYD_PASSWORD``: HTTP basic auth. Read from the
  environment only (never from the command line, which ``ps`` shows) and
  never printed. Without them, scrapyd-client falls back to ``~/.netrc``.

``jobs`` prints a header row and one line per job with its outcome:
``pending``, ``running``, or for a finished job what its log says (the last
``LOG_TAIL_BYTES`` of it, fetched like ``log``):

- ``cancelled``: the spider closed with reason ``shutdown`` (scrapyd 1.6's
  cancel sends SIGINT; under scrapyd nothing else does);
- ``failed`` with the reason: the crawl command logged an ``error:`` message
  (``booksscraper.commands.crawl`` at ERROR: bad configuration, could not
  start, did not finish), else the spider closed with a reason other than
  ``finished`` (e.g. ``memory_cap``), else the log has no closing line (the
  process was killed);
- ``finished``: the spider closed with reason ``finished`` and the crawl
  command logged no error;
- ``unknown``, with why: the log is gone (scrapyd's ``jobs_to_keep``) or unreadable.

``schedule`` gives each job its own ``OUTPUT_DIR``, ``output/<job>``, relative
to scrapyd's working directory (``SCRAPYD_HOME``), unless ``--setting
OUTPUT_DIR=...`` is given: jobs never overwrite each other's books.json,
rejects and failures. It prints the job id. Job ids are ``books-<UTC time>-<random>``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

import requests
from scrapyd_client.exceptions import ErrorResponse, MalformedResponse
from scrapyd_client.pyclient import ScrapydClient

DEFAULT_URL = "http://127.0.0.1:6800"
LOG_TAIL_BYTES = 32768
# The crawl command's logger (booksscraper.commands.crawl): its ERROR lines are
# the "error: ..." messages it prints, written to the job log under scrapyd.
_CRAWL_ERROR = re.compile(r"\[booksscraper\.commands\.crawl\] ERROR: (.+)$", re.MULTILINE)
_CLOSED = re.compile(r"\] INFO: Spider closed \((\w+)\)$", re.MULTILINE)
PROJECT = "booksscraper"
SPIDER = "books"


class ToolError(Exception):
    """A one-line error for the user."""


def new_job_id() -> str:
    return f"{SPIDER}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def client_from_env() -> ScrapydClient:
    url = os.environ.get("SCRAPYD_URL") or DEFAULT_URL
    if url.endswith("/"):
        raise ToolError(f"SCRAPYD_URL: no trailing slash, please ({url!r})")
    return ScrapydClient(
        url,
        username=os.environ.get("SCRAPYD_USERNAME") or None,
        password=os.environ.get("SCRAPYD_PASSWORD") or "",
    )


def schedule_params(
    settings: Sequence[tuple[str, str]], args: Sequence[tuple[str, str]], job_id: str
) -> list[tuple[str, str]]:
    """schedule.json's form fields (besides project and spider) for one job."""
    names = {name for name, _ in settings}
    settings = list(settings)
    if "OUTPUT_DIR" not in names:
        settings.append(("OUTPUT_DIR", f"output/{job_id}"))
    params = [("jobid", job_id)]
    params += [("setting", f"{name}={value}") for name, value in settings]
    params += list(args)
    return params


def find_job(client: ScrapydClient, job_id: str) -> dict[str, Any]:
    listing = client.jobs(PROJECT)
    for state in ("pending", "running", "finished"):
        for job in listing.get(state, []):
            if job.get("id") == job_id:
                return {**job, "state": state}
    raise ToolError(f"no job {job_id!r} in project {PROJECT!r} (finished jobs are forgotten "
                    "when scrapyd restarts; their files stay in SCRAPYD_HOME)")


def fetch(client: ScrapydClient, relative_url: str) -> bytes:
    response = requests.get(client.url + relative_url, auth=client.auth, timeout=60)
    if response.status_code != 200:
        raise ToolError(f"GET {relative_url}: HTTP {response.status_code}")
    return response.content


def log_tail(client: ScrapydClient, relative_url: str | None) -> str:
    """The last LOG_TAIL_BYTES of a job log; ToolError when it cannot be had.

    The size first (HEAD), then a Range from there: twisted's static files
    answer a suffix range longer than the file ("bytes=-N") with a 500."""
    if not relative_url:
        raise ToolError("no log (scrapyd's logs_dir is off)")
    url = client.url + relative_url
    try:
        head = requests.head(url, auth=client.auth, timeout=60)
        if head.status_code != 200:
            raise ToolError(f"log unreadable: HTTP {head.status_code} (removed by scrapyd?)")
        size = int(head.headers.get("Content-Length") or 0)
        if size == 0:
            raise ToolError("empty log")
        start = max(size - LOG_TAIL_BYTES, 0)
        response = requests.get(url, auth=client.auth, headers={"Range": f"bytes={start}-"},
                                timeout=60)
    except requests.RequestException as exc:
        raise ToolError(f"log unreadable: {type(exc).__name__}") from None
    if response.status_code not in (200, 206):
        raise ToolError(f"log unreadable: HTTP {response.status_code}")
    return response.content[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")


def job_outcome(log: str) -> tuple[str, str]:
    """(outcome, reason) of a finished job from the end of its log; see the module docstring."""
    closed = _CLOSED.findall(log)
    reason = closed[-1] if closed else None
    if reason == "shutdown":
        return "cancelled", ""
    errors = _CRAWL_ERROR.findall(log)
    if errors:
        return "failed", errors[-1].strip()
    if reason == "finished":
        return "finished", ""
    if reason is not None:
        return "failed", f"spider closed ({reason})"
    return "failed", "the log has no closing line (killed?)"


def job_rows(client: ScrapydClient, listing: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per job: outcome, id, start, end, reason; newest listing order kept."""
    rows = []
    for state in ("pending", "running", "finished"):
        for job in listing.get(state, []):
            outcome, reason = state, ""
            if state == "finished":
                try:
                    outcome, reason = job_outcome(log_tail(client, job.get("log_url")))
                except ToolError as exc:
                    outcome, reason = "unknown", str(exc)
            rows.append((outcome, job["id"], job.get("start_time") or "-",
                         job.get("end_time") or "-", reason))
    return rows


def format_rows(rows: list[tuple[str, ...]]) -> str:
    header = ("OUTCOME", "JOB", "STARTED", "ENDED", "REASON")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)),
                   row[-1]]).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def write_output(data: bytes, path: str | None) -> None:
    if path:
        with open(path, "wb") as out:
            out.write(data)
        print(f"wrote {len(data)} bytes to {path}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def run(options: argparse.Namespace) -> None:
    client = client_from_env()
    if options.command == "schedule":
        job_id = options.jobid or new_job_id()
        params = schedule_params(options.setting, options.arg, job_id)
        print(client.schedule(PROJECT, options.spider, params))
    elif options.command == "jobs":
        print(format_rows(job_rows(client, client.jobs(PROJECT))))
    elif options.command == "items":
        job = find_job(client, options.job)
        if not job.get("items_url"):
            raise ToolError(f"job {options.job} has no items feed yet ({job['state']}; "
                            "scrapyd's items_dir must be set)")
        write_output(fetch(client, job["items_url"]), options.output)
    elif options.command == "log":
        job = find_job(client, options.job)
        if not job.get("log_url"):
            raise ToolError(f"job {options.job} has no log yet ({job['state']})")
        write_output(fetch(client, job["log_url"]), options.output)
    elif options.command == "cancel":
        was = client.cancel(PROJECT, options.job).get("prevstate") or "not queued or running"
        print(f"cancelled {options.job} (it was {was})")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m booksscraper.tools.scrapyd_jobs",
                                   description=__doc__.split("\n\n")[0])
    commands = main.add_subparsers(dest="command", required=True)
    schedule = commands.add_parser("schedule", help="queue a crawl; prints its job id")
    schedule.add_argument("--spider", default=SPIDER)
    schedule.add_argument("--setting", "-s", type=name_value, action="append", default=[],
                          metavar="NAME=VALUE", help="a Scrapy setting for this job")
    schedule.add_argument("--arg", "-a", type=name_value, action="append", default=[],
                          metavar="NAME=VALUE", help="a spider argument, e.g. start_url=URL")
    schedule.add_argument("--jobid", help="job id (default: books-<UTC time>-<random>)")
    commands.add_parser(
        "jobs", help="jobs with their outcome: pending, running, finished, failed, cancelled"
    )
    for name, what in (("items", "items feed (JSON lines)"), ("log", "log")):
        command = commands.add_parser(name, help=f"a job's {what}")
        command.add_argument("job")
        command.add_argument("--output", "-o", help="write to FILE instead of stdout")
    cancel = commands.add_parser("cancel", help="stop a running job (SIGINT) or unqueue it")
    cancel.add_argument("job")
    return main


def describe_reply(error: MalformedResponse) -> str:
    text = str(error)
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return (title.group(1) if title else text[:100]).strip()


def main(argv: Sequence[str] | None = None) -> int:
    options = parser().parse_args(argv)
    try:
        run(options)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ErrorResponse as exc:
        print(f"error: scrapyd: {exc}", file=sys.stderr)
        return 1
    except MalformedResponse as exc:
        reply = describe_reply(exc)
        hint = " (check SCRAPYD_USERNAME and SCRAPYD_PASSWORD)" if "Unauthorized" in reply else ""
        print(f"error: scrapyd answered {reply!r}{hint}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"error: cannot reach scrapyd: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

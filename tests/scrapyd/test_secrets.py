"""Secrets of a scrapyd deployment come from scrapyd's environment, never a job's arguments:
a job through a proxy with a password, alerting a webhook with a token. Neither reaches
scrapyd's log ("Process started ... args="), `ps`, the job's log or any file the job wrote."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from booksscraper.records.credentials import SECRET_ENV_PREFIX
from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from tests.monitors.conftest import Receiver
from tests.proxies import PROXY_PASSWORD, TinyProxies
from tests.scrapyd.conftest import Scrapyd
from tests.scrapyd.test_scrapyd import schedule

TOKEN = secrets.token_hex(12)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def scrapyd_env(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[dict[str, str]]:
    proxies = TinyProxies(tmp_path_factory.mktemp("proxies"))
    try:
        proxy = proxies.start("127.0.0.2", auth=True)
        yield {f"{SECRET_ENV_PREFIX}PROXIES": proxy,
               f"{SECRET_ENV_PREFIX}ALERT_WEBHOOK_URL": receiver.url(f"alerts:{TOKEN}")}
    finally:
        proxies.stop_all()


@pytest.fixture(scope="module")
def site() -> Iterator[RunningSandbox]:
    # Books without a price fail a monitor: the job alerts the webhook.
    with running_sandbox(books=20, seed=9, fault_no_price=0.5) as sb:
        yield sb


@pytest.mark.timeout(240)
def test_a_jobs_secrets_come_from_scrapyds_environment_and_show_nowhere(
    scrapyd: Scrapyd, deployed: Any, site: RunningSandbox, receiver: Receiver
) -> None:
    job_id = schedule(scrapyd, "--arg", f"start_url={site.base_url}")
    scrapyd.wait_for(job_id, "finished", timeout=150)
    # Used: the pages went through the proxy, the alert reached the webhook.
    assert set(site.stats()["by_ip"]) == {"127.0.0.2"}
    assert receiver.received and "Authorization" in receiver.received[0]["headers"]
    # Shown nowhere: scrapyd's console (its "Process started ... args=" lines), its logs and
    # items folders, the job's output.
    texts = [scrapyd.console_text()] + [
        p.read_text(errors="replace") for p in Path(scrapyd.home).rglob("*")
        if p.is_file() and p.suffix in (".log", ".jl", ".json", ".jsonl", ".txt", ".csv")
    ]
    assert "Process started" in texts[0]
    for secret in (TOKEN, PROXY_PASSWORD):
        assert not [t for t in texts if secret in t], "a secret in scrapyd's files"

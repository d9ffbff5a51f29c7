"""A real scrapyd with the project deployed by scrapyd-deploy.

scrapyd runs from its own venv (``make scrapyd-venv``, as users get it) in a
temporary working directory outside the repository (so jobs import the
deployed egg, not the working tree), on a free loopback port, with basic auth
from SCRAPYD_USERNAME/SCRAPYD_PASSWORD (a random password per run).
"""

from __future__ import annotations

import configparser
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from tests.helpers import REPO, SCRAPYD_VENV, free_port, make_scrapyd_venv

USERNAME = "booksscraper"


@dataclass
class Scrapyd:
    url: str
    home: Path
    password: str
    process: subprocess.Popen[bytes]
    console: Path  # scrapyd's own stdout and stderr

    @property
    def auth(self) -> tuple[str, str]:
        return USERNAME, self.password

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment of a client process: scrapyd's URL and credentials."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYD_")}
        env.pop("PYTHONPATH", None)
        env.update(SCRAPYD_URL=self.url, SCRAPYD_USERNAME=USERNAME, SCRAPYD_PASSWORD=self.password)
        env.update(extra)
        return env

    def api(self, name: str, **params: Any) -> dict[str, Any]:
        response = requests.get(f"{self.url}/{name}.json", params=params, auth=self.auth,
                                timeout=30)
        response.raise_for_status()
        return response.json()

    def tool(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`python -m booksscraper.tools.scrapyd_jobs ARGS` with scrapyd's python, as make does."""
        return subprocess.run(
            [str(SCRAPYD_VENV / "bin" / "python"), "-m", "booksscraper.tools.scrapyd_jobs", *args],
            cwd=REPO, env=self.client_env(**env), capture_output=True, text=True, timeout=60,
            check=False,
        )

    def job(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        listing = self.api("listjobs", project="booksscraper")
        for state in ("pending", "running", "finished"):
            for job in listing[state]:
                if job["id"] == job_id:
                    return state, job
        return None

    def wait_for(self, job_id: str, state: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        found = None
        while time.monotonic() < deadline:
            found = self.job(job_id)
            if found and found[0] == state:
                return found[1]
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} not {state} after {timeout} s: {found}; "
                             f"scrapyd said:\n{self.console_text()[-3000:]}")

    def console_text(self) -> str:
        return self.console.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def scrapyd_venv() -> Path:
    """scrapyd's venv, installed by the Makefile target users run (a no-op when up to date)."""
    return make_scrapyd_venv()


def scrapyd_conf(port: int) -> str:
    """The repository's scrapyd.conf on another port (credentials come from the environment)."""
    config = configparser.ConfigParser()
    config.read(REPO / "scrapyd.conf")
    assert config["scrapyd"]["bind_address"] == "127.0.0.1"
    assert not config["scrapyd"]["password"], "scrapyd.conf must not hold a password"
    config["scrapyd"]["http_port"] = str(port)
    lines: list[str] = []
    for section in config.sections():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value}" for key, value in config[section].items()]
    return "\n".join(lines) + "\n"


def stop_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM scrapyd (by pid), then kill whatever it or its jobs left behind."""
    try:
        leftovers = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        leftovers = []
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(leftovers, timeout=10)
    for child in alive:
        child.kill()


@pytest.fixture(scope="module")
def scrapyd(scrapyd_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    home = tmp_path_factory.mktemp("scrapyd-home")
    port = free_port()
    (home / "scrapyd.conf").write_text(scrapyd_conf(port), encoding="utf-8")
    password = secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYD_")}
    env.pop("PYTHONPATH", None)  # jobs must find booksscraper in the egg only
    env.update(SCRAPYD_USERNAME=USERNAME, SCRAPYD_PASSWORD=password)
    console = home / "scrapyd-console.log"
    with console.open("wb") as out:
        process = subprocess.Popen(
            [str(scrapyd_venv / "bin" / "scrapyd"), "--nodaemon", "--logfile=-", "--pidfile="],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Scrapyd(f"http://127.0.0.1:{port}", home, password, process, console)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.api("daemonstatus")["status"] == "ok":
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"scrapyd did not start:\n{server.console_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        stop_tree(process)


@pytest.fixture(scope="module")
def deploy_config(tmp_path_factory: pytest.TempPathFactory, scrapyd: Scrapyd) -> Path:
    """An XDG scrapy.cfg with a `test` deploy target: scrapyd-client reads it beside the repo's."""
    folder = tmp_path_factory.mktemp("xdg")
    (folder / "scrapy.cfg").write_text(
        "[deploy:test]\n"
        f"url = {scrapyd.url}\n"
        "project = booksscraper\n"
        "username = ${SCRAPYD_USERNAME}\n"
        "password = ${SCRAPYD_PASSWORD}\n",
        encoding="utf-8",
    )
    return folder


def scrapyd_deploy(scrapyd: Scrapyd, deploy_config: Path, **env: str
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRAPYD_VENV / "bin" / "scrapyd-deploy"), "test"],
        cwd=REPO, env=scrapyd.client_env(XDG_CONFIG_HOME=str(deploy_config), **env),
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def deployed(scrapyd: Scrapyd, deploy_config: Path) -> subprocess.CompletedProcess[str]:
    """The project deployed with the real scrapyd-deploy."""
    result = scrapyd_deploy(scrapyd, deploy_config)
    assert result.returncode == 0, f"scrapyd-deploy failed:\n{result.stdout}\n{result.stderr}"
    return result

"""The command line: one-line errors with exit 2, clean stops on SIGTERM/SIGINT, helper cleanup."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from booksscraper.sandbox.testing import running_sandbox

from .net import address, get

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "booksscraper.sandbox", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=20, check=False)


@pytest.mark.parametrize("args, words", [
    (["--fault-500", "1.5"], "--fault-500 must be between 0 and 1, got 1.5"),
    (["--fault-503", "-0.1"], "--fault-503 must be between 0 and 1"),
    (["--fault-500", "0.7", "--fault-502", "0.7"], "add up to"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--port", "70000"], "--port must be an integer between 0 and 65535"),
    (["--port", "-1"], "--port must be"),
    (["--port", "abc"], "invalid int value"),
    (["--books", "0"], "--books must be"),
    (["--books", "1000001"], "--books must be"),
    (["--retry-after-format", "weekly"], "--retry-after-format must be one of"),
    (["--host", "localhost-ish"], "--host must be an IP address"),
    (["--config", "/nonexistent/sandbox.json"], "--config"),
])
def test_bad_input(args: list[str], words: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sandbox: error: ")
    assert words in lines[0]


def test_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fault_500": 0.1, "colour": "blue"}))
    result = run_cli("--config", str(bad))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "unknown config key: 'colour'" in result.stderr


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("--port", str(taken.getsockname()[1]))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "cannot listen on" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_file_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"fault_500": 1.0, "retry_after": 9}))
    with running_sandbox(books=50, seed=1, fault_kinds=["book"]) as sb:
        assert sb.config()["fault_kinds"] == ["book"]
    proc = subprocess.Popen([sys.executable, "-m", "booksscraper.sandbox", "--port", "0",
                             "--config", str(cfg), "--fault-500", "0.25"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        config = json.loads(get(base, "__config").body)
        assert config["fault_500"] == 0.25 and config["retry_after"] == 9  # flags win
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(sig: signal.Signals) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "booksscraper.sandbox", "--port", "0",
                             "--fault-hang", "1"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        # an idle keep-alive connection and a hung request must not hold the exit up
        idle = socket.create_connection(address(base))
        hung = socket.create_connection(address(base))
        hung.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        assert proc.stderr.read() == ""
        assert not [c for c in children if c.is_running()]
        idle.close()
        hung.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_helper_stops_server_on_exception() -> None:
    with pytest.raises(RuntimeError), running_sandbox(books=20) as sb:
        pid = sb.pid
        assert psutil.pid_exists(pid)
        raise RuntimeError("boom")
    assert not psutil.pid_exists(pid)

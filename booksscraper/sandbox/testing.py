"""Test helper: run a sandbox subprocess for the duration of a `with` block.

    with running_sandbox(books=1000, seed=7, fault_500=0.1) as sb:
        requests.get(sb.base_url + "catalogue/page-2.html")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[2]


class SandboxError(RuntimeError):
    pass


class RunningSandbox:
    def __init__(self, proc: subprocess.Popen, base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _call(self, path: str, body: dict | None = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        method = "GET" if data is None else "POST"
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        # Loopback only: never let an environment proxy see control traffic.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            reason = exc.read().decode(errors="replace").strip()
            raise SandboxError(f"{path}: HTTP {exc.code}: {reason}") from None

    def stats(self) -> dict[str, Any]:
        return json.loads(self._call("__stats"))

    def config(self) -> dict[str, Any]:
        return json.loads(self._call("__config"))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """POST /__config (a partial update); raises SandboxError on a 400."""
        return json.loads(self._call("__config", changes))

    def reset(self) -> None:
        self._call("__reset", {})

    def truth(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._call("__catalogue.jsonl").splitlines() if line]

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def running_sandbox(books: int = 1000, seed: int = 0, start_timeout: float = 30.0,
                    **options: Any) -> Iterator[RunningSandbox]:
    """Start `python -m booksscraper.sandbox --port 0`; options are config keys (via --config)."""
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
        config_path = Path(tmp, "config.json")
        config_path.write_text(json.dumps(options))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH")]))
        args = [sys.executable, "-m", "booksscraper.sandbox", "--port", "0", "--books", str(books),
                "--seed", str(seed), "--config", str(config_path)]
        stderr = open(Path(tmp, "stderr.txt"), "w+b")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, env=env,
                                cwd=str(_REPO))
        try:
            line: list[bytes] = []
            reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()),
                                      daemon=True)
            reader.start()
            reader.join(start_timeout)
            if not line or not line[0].startswith(b"http"):
                stderr.seek(0)
                output = stderr.read().decode(errors="replace").strip()
                raise SandboxError(f"sandbox did not start: {output}")
            sandbox = RunningSandbox(proc, line[0].decode().strip())
            yield sandbox
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            stderr.close()


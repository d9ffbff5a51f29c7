"""CPU per page of `scrapy crawl books` with our downloader middlewares on, against off.

    .venv/bin/python benchmarks/middleware_overhead.py [--books 1000] [--repeats 3]
        [--no-proxies]

Both variants crawl the same local sandbox (no faults, no latency) in this one run,
alternating on/off so drift on a shared machine hits both alike:

- direct: "on" is the BooksStack default (backoff retries, ban detection idle, User-Agent
  middleware in rotate mode so profile headers are set on every request); "off" switches
  our retry and User-Agent middlewares off (Scrapy's stock ones stay off too, as the add-on
  replaces them), so "off" is the bare downloader path.
- proxies (unless --no-proxies; needs Debian's tinyproxy): one loopback tinyproxy in
  both modes, so both have the same topology (one download slot, one connection pool).
  "on" goes through it with ProxyRotationMiddleware + BanDetectionMiddleware (plus retry
  and UA as above); "off" with Scrapy's stock HttpProxyMiddleware alone (``http_proxy``
  in the environment). The per-request work of rotation does not depend on the pool size.

Measured per crawl: the crawl process's user+system CPU seconds (os.wait4 rusage, start-up
included) divided by the responses it downloaded. Printed: the median of the repeats per
variant and the overhead of "on" against "off" as a ratio. The target is under 10%.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from booksscraper.sandbox.testing import running_sandbox  # noqa: E402

OURS_OFF = (
    '{"booksscraper.middlewares.retry.BackoffRetryMiddleware": null,'
    ' "booksscraper.middlewares.useragent.UserAgentMiddleware": null,'
    ' "booksscraper.middlewares.proxies.ProxyRotationMiddleware": null,'
    ' "booksscraper.middlewares.bans.BanDetectionMiddleware": null}'
)


def crawl(base_url: str, out: Path, settings: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(CPU seconds, responses) of one `scrapy crawl books`."""
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "books",
        "-a",
        f"start_url={base_url}",
        "-s",
        f"OUTPUT_DIR={out}",
        "-s",
        "LOG_LEVEL=INFO",
    ]
    for setting in settings:
        command += ["-s", setting]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **env}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed ({proc.returncode}):\n{text[-3000:]}")
    match = re.search(r"Dumping Scrapy stats:\n(\{.*?\})\n", text, re.S)
    assert match, text[-2000:]
    stats = ast.literal_eval(re.sub(r"datetime\.datetime\([^)]*\)", "None", match.group(1)))
    return usage.ru_utime + usage.ru_stime, stats["downloader/response_count"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tinyproxy(folder: Path, bind: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    conf = folder / f"tinyproxy-{port}.conf"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nBind {bind}\nAllow 127.0.0.0/8\n"
        "DisableViaHeader Yes\nMaxClients 100\nLogLevel Error\n"
    )
    proc = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("tinyproxy did not start") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-proxies", action="store_true")
    args = parser.parse_args()

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    variants: dict[str, tuple[list[str], list[str], dict[str, str], dict[str, str]]] = {}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name, running_sandbox(books=args.books, seed=7) as sb:
        tmp = Path(tmp_name)
        variants["direct"] = (
            ["USER_AGENT_MODE=rotate"],
            [f"DOWNLOADER_MIDDLEWARES={OURS_OFF}"],
            {},
            {},
        )
        if not args.no_proxies and shutil.which("tinyproxy"):
            proxy, url1 = start_tinyproxy(tmp, "127.0.0.2")
            procs.append(proxy)
            variants["proxies"] = (
                ["USER_AGENT_MODE=rotate", f"ROTATING_PROXY_LIST={url1}"],
                [f"DOWNLOADER_MIDDLEWARES={OURS_OFF}"],
                {},
                {"http_proxy": url1, "no_proxy": ""},
            )
        try:
            print(f"sandbox: {args.books} books, no faults; {args.repeats} repeats per variant")
            print(f"{'variant':<9} {'mode':<4} {'CPU ms/page (median)':>21} {'runs (ms/page)':>30}")
            for name, (on_settings, off_settings, on_env, off_env) in variants.items():
                per_page: dict[str, list[float]] = {"on": [], "off": []}
                for repeat in range(args.repeats):
                    for mode, settings, env in (
                        ("off", off_settings, off_env),
                        ("on", on_settings, on_env),
                    ):
                        cpu, pages = crawl(
                            sb.base_url, tmp / f"{name}-{mode}-{repeat}", settings, env
                        )
                        per_page[mode].append(1000 * cpu / pages)
                medians = {mode: statistics.median(v) for mode, v in per_page.items()}
                for mode in ("off", "on"):
                    runs = ", ".join(f"{v:.3f}" for v in per_page[mode])
                    print(f"{name:<9} {mode:<4} {medians[mode]:>21.3f} {runs:>30}")
                overhead = medians["on"] / medians["off"] - 1
                print(f"{name:<9} overhead on/off: {overhead:+.1%} (target < +10%)")
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

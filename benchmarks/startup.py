"""Start-up: a one-page crawl with booksscraper against plain Scrapy, and the ratio.

    python -m benchmarks.startup [--runs 7] [--write BENCHMARKS.md]

Starts the sandbox once, then times, alternately, ``scrapy crawl books -a
start_url=<one book page>`` (the whole stack, as a user runs it) and the same
page with a plain Scrapy spider (``benchmarks/baselines/one_page.py``), each a
fresh process, wall time from start to exit: the plain spider run as a
``CrawlerProcess`` script (the strictest baseline: it skips the ``scrapy``
command's own start-up) and through ``scrapy runspider`` (the same entry point as
ours), both with logs at WARNING like ours. Prints the median of each and the
ratios; also the modules importing the stack loads that it should not need
(numpy, matplotlib, rich, ftfy, redis), and the import of the stack alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench import OURS, REPO, command, write_section
from booksscraper.sandbox.testing import running_sandbox

HEAVY = ("numpy", "matplotlib", "rich", "ftfy", "redis")
# What a crawl process loads: the settings, the spider, every component the add-on switches on.
IMPORT_STACK = (
    "from scrapy.utils.project import get_project_settings; "
    "from booksscraper.addon import BooksStack; "
    "import booksscraper.spiders.books; "
    "BooksStack().update_settings(get_project_settings())"
)
REPORT_HEAVY = f"import sys; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"


def timed(argv: list[str], cwd: Path = REPO) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)} if cwd != REPO else None
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv)} exited {result.returncode}:\n"
                         f"{result.stderr[-2000:]}")
    return elapsed


def bytecode() -> str:
    """Whether the processes read cached bytecode or compile every module at each start."""
    code = ("import importlib.util, os, scrapy, booksscraper.addon as a; print(all("
            "os.path.exists(importlib.util.cache_from_source(m.__file__)) for m in (scrapy, a)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    if result.stdout.strip() == "True":
        return "cached (.pyc, as `make venv` installs and compiles)"
    return "not cached: every process compiles its modules (no .pyc, PYTHONDONTWRITEBYTECODE)"


def heavy_imports() -> str:
    """The heavy modules loaded once the stack is imported (every component the add-on adds)."""
    result = subprocess.run([sys.executable, "-c", f"{IMPORT_STACK}; {REPORT_HEAVY}"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout.strip() or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each (median taken)")
    parser.add_argument("--write", type=Path, help="update this Markdown file's section")
    args = parser.parse_args()
    ours: list[float] = []
    runspider: list[float] = []
    plain: list[float] = []
    imports: list[float] = []
    with running_sandbox(books=20, seed=7) as sandbox, tempfile.TemporaryDirectory() as tmp:
        url = sandbox.truth()[0]["url"]
        out = Path(tmp)
        ours_argv = [sys.executable, *command(OURS, url, out / "ours", [])]
        plain_argv = [sys.executable, "-m", "benchmarks.baselines.one_page", url,
                      str(out / "plain.json")]
        # Outside the project (no scrapy.cfg: plain Scrapy's settings), the spider on PYTHONPATH.
        spider = str(REPO / "benchmarks" / "baselines" / "one_page.py")
        runspider_argv = [sys.executable, "-m", "scrapy", "runspider", spider, "-a", f"url={url}",
                          "-O", str(out / "runspider.json"), "-s", "LOG_LEVEL=WARNING",
                          "-s", "TELNETCONSOLE_ENABLED=False", "-s", "REMOTE_CONTROL_ENABLED=False"]
        for _ in range(args.runs):
            ours.append(timed(ours_argv))
            runspider.append(timed(runspider_argv, cwd=out))
            plain.append(timed(plain_argv))
            imports.append(timed([sys.executable, "-c", IMPORT_STACK]))
        books = json.loads((out / "ours" / "books.json").read_text(encoding="utf-8"))
        if len(books) != 1 or any(len(json.loads((out / name).read_text())) != 1
                                  for name in ("plain.json", "runspider.json")):
            raise SystemExit("error: a one-page crawl did not export exactly one book")
    python = timed([sys.executable, "-c", "pass"])
    rows = [
        ("booksscraper, one-page crawl (`scrapy crawl books`)", statistics.median(ours)),
        ("plain Scrapy, one-page crawl (a `CrawlerProcess` script)", statistics.median(plain)),
        ("plain Scrapy, the same spider by `scrapy runspider`", statistics.median(runspider)),
        ("importing the stack alone (settings, add-on, components)", statistics.median(imports)),
        ("`python -c pass`", python),
    ]
    ratio, like_for_like = rows[0][1] / rows[1][1], rows[0][1] / rows[2][1]
    body = "\n".join([
        "| what | median wall time |",
        "| --- | ---: |",
        *(f"| {name} | {seconds:.2f} s |" for name, seconds in rows),
        "",
        f"Ratio booksscraper / plain Scrapy: **{ratio:.2f}x** against the script, "
        f"**{like_for_like:.2f}x** against `scrapy runspider` ({args.runs} runs each, "
        f"alternated). Heavy modules loaded once the stack is imported: {heavy_imports()}. "
        f"Bytecode: {bytecode()}.",
    ])
    print(body)
    if args.write:
        write_section(args.write, "startup", body, "python -m benchmarks.startup "
                      + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()

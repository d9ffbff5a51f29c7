"""A newcomer's figures on a fresh clone: install times, test suite, egg and image contents.

    python benchmarks/fresh_clone.py [--skip-tests] [--write BENCHMARKS.md]

Clones the repository's HEAD into a temporary folder and, there, with empty
pip and uv caches (as on a fresh machine): times `make venv-reports` (what
`make crawl` installs), `make venv` (adds the dev set), `make scrapyd-venv`
and `make test`; builds the scrapyd egg as `scrapyd-deploy` does and lists its
packages; installs the runtime set alone (what the Docker image installs) and
sizes it against the full dev venv. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench import write_section  # noqa: E402


def run(argv: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if check and result.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv)} exited {result.returncode}:\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, result.stdout + result.stderr


def size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def packages(venv: Path) -> int:
    site = next(venv.glob("lib/python*/site-packages"))
    return len(list(site.glob("*.dist-info")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--write", type=Path, help="update this Markdown file's section")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        clone, caches = Path(tmp) / "clone", Path(tmp) / "caches"
        env = {**os.environ, "UV_CACHE_DIR": str(caches / "uv"), "PIP_NO_CACHE_DIR": "1"}
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        for target in ("venv-reports", "venv", "scrapyd-venv"):
            seconds, _ = run(["make", target], clone, env)
            rows.append((f"`make {target}` (empty caches)", f"{seconds:.1f} s"))
            print(rows[-1], file=sys.stderr, flush=True)
        venv = clone / ".venv"
        rows.append(("dev venv (runtime + reports + dev)",
                     f"{packages(venv)} packages, {size_mib(venv):.0f} MiB"))
        scrapyd = clone / ".venv-scrapyd"
        rows.append(("scrapyd venv (runtime + scrapyd)",
                     f"{packages(scrapyd)} packages, {size_mib(scrapyd):.0f} MiB"))
        # What the Dockerfile installs: the runtime set alone.
        image = Path(tmp) / "image"
        run([str(venv / "bin" / "uv"), "venv", "-q", "--python", sys.executable, str(image)],
            clone, env)
        run([str(venv / "bin" / "uv"), "pip", "install", "-q", "--require-hashes", "--python",
             str(image / "bin" / "python"), "-r", "requirements/runtime.txt"], clone, env)
        rows.append(("runtime set alone (the Docker image's)",
                     f"{packages(image)} packages, {size_mib(image):.0f} MiB"))
        # The egg, built as scrapyd-deploy builds it.
        run([str(scrapyd / "bin" / "python"), "setup.py", "-q", "bdist_egg", "-d", "dist"],
            clone, env)
        egg = next((clone / "dist").glob("*.egg"))
        names = zipfile.ZipFile(egg).namelist()
        tops = sorted({re.sub(r"/[^/]*$", "", n) for n in names
                       if n.startswith("booksscraper/") and n.endswith(".py")})
        rows.append(("scrapyd egg", f"{egg.stat().st_size / 1024:.0f} KiB, "
                     f"{sum(n.endswith('.py') for n in names)} modules in "
                     + ", ".join(f"`{t}`" for t in tops)))
        if not args.skip_tests:
            seconds, output = run(["make", "test"], clone, env, check=False)
            summary = re.findall(r"=+ (.*) in [0-9.]+s", output)
            rows.append(("`make test` (venvs already installed)",
                         f"{seconds:.0f} s ({summary[-1] if summary else '?'})"))
    body = "\n".join(["| what | figure |", "| --- | --- |",
                      *(f"| {name} | {value} |" for name, value in rows)])
    print(body)
    if args.write:
        write_section(args.write, "fresh-clone", body,
                      "python benchmarks/fresh_clone.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()

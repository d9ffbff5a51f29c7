# booksscraper: `make crawl` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Dependency sets (requirements/*.in), each locked with hashes (requirements/*.txt, `make lock`):
# runtime (a crawl), reports (+ charts), dev (+ tests, lint, benchmarks), scrapyd (runtime + scrapyd).
# `make crawl` installs reports, `make test` dev; uv installs them (pip installs uv, hash-checked).
REQ := requirements
# --compile-bytecode: every process (each test's `scrapy crawl`) reads .pyc files instead of
# compiling ~1000 modules (~1-2 s a process where PYTHONDONTWRITEBYTECODE is set, as in CI).
UV_INSTALL = $(1)/bin/uv pip install --quiet --require-hashes --compile-bytecode --python $(1)/bin/python
# System packages the tests start for real (proxies, Redis).
APT_PACKAGES := tinyproxy redis-server

.PHONY: venv venv-reports system-deps crawl report bench bench-scale test test-fast lint lock clean

# A venv with the pinned uv in it.
%/.uv: $(REQ)/uv.txt
	$(PYTHON) -m venv $*
	$*/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $<
	touch $@

$(VENV)/.installed-reports: $(REQ)/reports.txt $(VENV)/.uv
	$(call UV_INSTALL,$(VENV)) -r $<
	touch $@

$(VENV)/.installed-dev: $(REQ)/dev.txt $(VENV)/.uv
	$(call UV_INSTALL,$(VENV)) -r $<
	touch $@

# Everything (runtime, reports, dev): what `make test` uses.
venv: $(VENV)/.installed-dev
# Runtime and reports only: what `make crawl` uses.
venv-reports: $(VENV)/.installed-reports

# Re-lock every set after editing a requirements/*.in (uv: see docs/dependencies.md).
LOCK = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11.7 \
	--custom-compile-command "make lock"
lock: $(VENV)/.uv
	$(LOCK) $(REQ)/uv.in -o $(REQ)/uv.txt
	$(LOCK) $(REQ)/runtime.in -o $(REQ)/runtime.txt
	$(LOCK) -c $(REQ)/runtime.txt $(REQ)/reports.in -o $(REQ)/reports.txt
	$(LOCK) -c $(REQ)/reports.txt $(REQ)/dev.in -o $(REQ)/dev.txt
	$(LOCK) -c $(REQ)/runtime.txt $(REQ)/scrapyd.in -o $(REQ)/scrapyd.txt

# Installs the Debian packages the tests need when they are missing (as root).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note: missing$$missing (not root: tests that need them will skip)"; fi; \
	fi

# The main job on the embedded default: the offline sandbox; then the report.
crawl: venv-reports
	$(PY) -m booksscraper.tools.sandbox_crawl $(if $(BOOKS),--books $(BOOKS))
	$(PY) -m booksscraper.report output

# Speed and memory against the article baselines, written to BENCHMARKS.md.
bench: venv
	$(PY) -m benchmarks.bench --write BENCHMARKS.md

# The 100x catalogue: peak RSS and time per page against a 1,000-book run.
bench-scale: venv
	$(PY) -m benchmarks.bench --scale --write BENCHMARKS.md

# output/report.md with charts, from a crawl's stats.json and monitor.jsonl.
report: venv-reports
	$(PY) -m booksscraper.report $(or $(OUTPUT_DIR),output)

# Every test, on PYTEST_WORKERS processes (pytest-xdist; a test file stays on one worker, so its
# module fixtures start once). scrapyd's venv first: tests deploy to a real scrapyd.
# 4 on 2 cores: the tests mostly wait on sockets, backoffs and subprocesses (docs/testing.md).
PYTEST_WORKERS ?= 4
# pytest exits 5 when it collected no test: a broken selection or suite, said in one line.
PYTEST = run() { "$$@"; status=$$?; [ $$status != 5 ] || echo "error: pytest collected no test" >&2; \
	return $$status; }; run $(PY) -m pytest
# The project's own modules compiled once (.pyc), for the same reason as --compile-bytecode.
COMPILE = $(PY) -m compileall -q -j 0 booksscraper tests benchmarks >/dev/null
test: venv scrapyd-venv system-deps
	@$(COMPILE)
	@$(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The edit-test loop: tests that start no process (no crawl, server or proxy; marker e2e).
test-fast: venv
	@$(COMPILE)
	@$(PYTEST) -m "not e2e" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check booksscraper tests benchmarks

clean:
	rm -rf output .pytest_cache .ruff_cache

# --- scrapyd ---
# scrapyd 1.6 and scrapyd-client 2.0 in their own venv (requirements/scrapyd.txt: the
# runtime set plus scrapyd, since scrapyd runs jobs with its own python).
# Credentials: SCRAPYD_USERNAME and SCRAPYD_PASSWORD in the environment, for
# scrapyd, scrapyd-deploy and the job tool alike; never on a command line.
#   make scrapyd                      scrapyd in the foreground (Ctrl-C stops it)
#   make deploy                       build the egg and upload it (target `local`)
#   make schedule SETTINGS="CONCURRENT_REQUESTS=8" ARGS="start_url=http://..."
#   make jobs | make items JOB=ID [OUT=FILE] | make log JOB=ID | make cancel JOB=ID
SCRAPYD_VENV ?= .venv-scrapyd
SCRAPYD_STAMP := $(SCRAPYD_VENV)/.installed-scrapyd
# scrapyd's working directory (logs/, items/, output/<job>/, eggs/, dbs/), kept
# outside the repository so that jobs run the deployed egg, not the working tree.
SCRAPYD_HOME ?= $(HOME)/.local/share/booksscraper/scrapyd
SCRAPYD_URL ?= http://127.0.0.1:6800
DEPLOY_TARGET ?= local
SCRAPYD_JOBS = SCRAPYD_URL=$(SCRAPYD_URL) $(SCRAPYD_VENV)/bin/python -m booksscraper.tools.scrapyd_jobs

.PHONY: scrapyd-venv scrapyd deploy schedule jobs items log cancel

$(SCRAPYD_STAMP): $(REQ)/scrapyd.txt $(SCRAPYD_VENV)/.uv
	$(call UV_INSTALL,$(SCRAPYD_VENV)) -r $<
	touch $@

scrapyd-venv: $(SCRAPYD_STAMP)

scrapyd: scrapyd-venv
	@if [ -z "$$SCRAPYD_USERNAME" ] || [ -z "$$SCRAPYD_PASSWORD" ]; then \
	  echo "error: set SCRAPYD_USERNAME and SCRAPYD_PASSWORD (scrapyd's HTTP basic auth)" >&2; exit 2; fi
	mkdir -p "$(SCRAPYD_HOME)"
	cp scrapyd.conf "$(SCRAPYD_HOME)/scrapyd.conf"
	cd "$(SCRAPYD_HOME)" && exec "$(abspath $(SCRAPYD_VENV))/bin/scrapyd" --nodaemon --logfile=- --pidfile=

deploy: scrapyd-venv
	$(SCRAPYD_VENV)/bin/scrapyd-deploy $(DEPLOY_TARGET)

schedule: scrapyd-venv
	@$(SCRAPYD_JOBS) schedule $(foreach s,$(SETTINGS),--setting '$(s)') $(foreach a,$(ARGS),--arg '$(a)')

jobs: scrapyd-venv
	@$(SCRAPYD_JOBS) jobs

items log: scrapyd-venv
	@test -n "$(JOB)" || { echo "error: give JOB=<job id> (see make jobs)" >&2; exit 2; }
	@$(SCRAPYD_JOBS) $@ '$(JOB)' $(if $(OUT),--output '$(OUT)')

cancel: scrapyd-venv
	@test -n "$(JOB)" || { echo "error: give JOB=<job id> (see make jobs)" >&2; exit 2; }
	@$(SCRAPYD_JOBS) cancel '$(JOB)'
# --- end scrapyd ---

# --- cluster ---
# make cluster WORKERS=3 [BOOKS=1000] [MAX_RPS=0]: local redis-server + sandbox + N workers, merged.
# make merge OUT=merged.json DIRS="output/cluster/worker-1 output/cluster/worker-2" [STATE=output/cluster/incremental]
WORKERS ?= 3
.PHONY: cluster merge

cluster: venv-reports system-deps
	$(PY) -m booksscraper.tools.cluster_run --workers $(WORKERS) $(if $(BOOKS),--books $(BOOKS)) $(if $(MAX_RPS),--max-rps $(MAX_RPS))

merge: venv-reports
	@test -n "$(OUT)" -a -n "$(DIRS)" || { echo "error: give OUT=<file.json> DIRS=\"<worker dirs>\"" >&2; exit 2; }
	$(PY) -m booksscraper.cluster.merge $(if $(STATE),--state-dir "$(STATE)") "$(OUT)" $(DIRS)
# --- end cluster ---

# --- politeness ---
# make experiment [BOOKS=300] [REPEATS=1] [CONCURRENCY="1 2 4 8 16"] [QUICK=1]: sweeps concurrency,
# delay, AutoThrottle and the adaptive controller against the sandbox's capacity model and rate
# limit; writes benchmarks/results/politeness/ (QUICK=1: output/politeness-quick, no verdict).
# docs/politeness.md.
.PHONY: experiment

experiment: venv
	$(PY) benchmarks/experiment.py $(if $(BOOKS),--books $(BOOKS)) $(if $(REPEATS),--repeats $(REPEATS)) $(if $(CONCURRENCY),--concurrency "$(CONCURRENCY)") $(if $(QUICK),--quick --out output/politeness-quick)
# --- end politeness ---

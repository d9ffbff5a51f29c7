# booksscraper: `make crawl` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# System packages the tests start for real (proxies, Redis).
APT_PACKAGES := tinyproxy redis-server

.PHONY: venv system-deps crawl test lint clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(STAMP)

# Installs the Debian packages the tests need when they are missing (as root).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note: missing$$missing (not root: tests that need them will skip)"; fi; \
	fi

crawl: venv
	$(PY) -m booksscraper.tools.sandbox_crawl $(if $(BOOKS),--books $(BOOKS))

test: venv system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check booksscraper tests benchmarks

clean:
	rm -rf output .pytest_cache .ruff_cache

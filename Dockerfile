# A booksscraper cluster worker: `scrapy crawl books` with the Redis scheduler.
#   docker build -t booksscraper .
#   docker run --rm -e BOOKS_REDIS_URL_FILE=/run/secrets/redis_url -v "$PWD/redis_url:/run/secrets/redis_url:ro" \
#     -e START_URL=https://books.toscrape.com/ -v "$PWD/output:/data" booksscraper
# Secrets come from the environment or files, never the command line (`ps` shows it):
# BOOKS_REDIS_URL[_FILE], BOOKS_ALERT_WEBHOOK_URL[_FILE], BOOKS_PROXIES or ROTATING_PROXY_LIST_PATH.
# Each container writes to /data/<hostname>; merge them afterwards with
#   sh -c 'python -m booksscraper.cluster.merge --state-dir /data/.incremental /data/books.json /data/*/'
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The runtime set only (requirements/runtime.in), hash-checked: no tests, lint, or charts.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt

COPY scrapy.cfg pyproject.toml ./
COPY booksscraper ./booksscraper
# What a worker never runs (the same list as the scrapyd egg's, setup.py).
RUN rm -r booksscraper/sandbox booksscraper/tools booksscraper/report

# Unprivileged; /data is where the worker output goes (mount a volume there).
RUN useradd --create-home --uid 1000 scraper && mkdir /data && chown scraper /data
USER scraper

# BOOKS_REDIS_URL (or BOOKS_REDIS_URL_FILE) is required: without it the worker stops with
# exit 2 (CLUSTER_REQUIRED), never crawls the whole site alone. The others are optional
# (0 = no shared rate limit).
ENV START_URL=https://books.toscrape.com/ \
    CLUSTER_MAX_RPS_PER_DOMAIN=0 \
    CLUSTER_LEASE_SECONDS=60
CMD ["sh", "-c", "exec scrapy crawl books -a start_url=\"$START_URL\" -s CLUSTER_REQUIRED=true -s OUTPUT_DIR=\"/data/$(hostname)\" -s CLUSTER_MAX_RPS_PER_DOMAIN=\"$CLUSTER_MAX_RPS_PER_DOMAIN\" -s CLUSTER_LEASE_SECONDS=\"$CLUSTER_LEASE_SECONDS\""]

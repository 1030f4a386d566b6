# syntax=docker/dockerfile:1
# One image for every Tijori service: the argument names the service.
#
#   docker build -t tijori .
#   docker run --rm tijori users            # tijori serve users on 0.0.0.0:8081
#   docker run --rm tijori aggregator       # the gateway's /ready and /docs on 8086
#   docker run --rm --entrypoint tijori tijori migrate
#
# Configuration is the TIJORI_* environment of the README; compose.yaml sets it for
# the whole system. Every dependency ships wheels for x86_64 and aarch64: no compiler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# dependencies first, in their own layer: a change of code does not reinstall them
COPY pyproject.toml README.md ./
RUN mkdir -p src/tijori && touch src/tijori/__init__.py \
    && pip install . \
    && pip uninstall -y tijori \
    && rm -rf src build

COPY src ./src
RUN pip install --no-deps . && rm -rf build src
# the web client, for `tijori serve gateway` in this image (compose runs the gateway
# from the official caddy:2 image instead, with ./web mounted)
COPY web ./web

# GET /health of the service this container runs (its port from `tijori serve`'s rules)
COPY <<'EOF' /usr/local/bin/tijori-healthcheck
#!/usr/local/bin/python
"""Exit 0 when the service that PID 1 serves answers GET /health with 200."""
import sys
import urllib.request

from tijori.services import SERVICES

args = open("/proc/1/cmdline", "rb").read().decode().split("\0")
name = next(arg for arg in args if arg in SERVICES)
if "--port" in args:
    port = int(args[args.index("--port") + 1])
else:
    port = SERVICES[name].port
with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as answer:
    sys.exit(0 if answer.status == 200 else 1)
EOF
RUN chmod 0755 /usr/local/bin/tijori-healthcheck

# never root: a fixed uid/gid so that Kubernetes' runAsNonRoot can check it
RUN groupadd --system --gid 10001 tijori \
    && useradd --system --uid 10001 --gid tijori --home-dir /app --shell /usr/sbin/nologin tijori \
    && mkdir -p /data && chown tijori:tijori /data
USER 10001:10001

ENV TIJORI_DATA_DIR=/data \
    TIJORI_WEB_DIR=/app/web

# users, wallets, transactions, notifications, aggregator
EXPOSE 8081 8082 8083 8084 8086

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["tijori-healthcheck"]

ENTRYPOINT ["tijori", "serve", "--host", "0.0.0.0"]
CMD ["users"]

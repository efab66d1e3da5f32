# Directmail's image. Stages:
#   swagger-ui  Swagger UI as /ui serves it (scripts/build_swagger_ui.sh, swagger-ui-dist as its lock pins it)
#   builder     the locked dependencies (Pipfile.lock, hashes checked) and the kit in /opt/venv
#   test        everything `make test` needs, installed: `docker compose -f docker-compose.test.yml run --build --rm test`
#   runtime     the service (the default target): non-root, read-only root filesystem, `run.py serve`
# The bases are pinned by exact version. To pin a digest too, resolve it where a registry answers
# (`docker buildx imagetools inspect python:3.11.14-slim-bookworm`) and write FROM python:3.11.14-slim-bookworm@sha256:<digest>.

FROM node:20.19.5-bookworm-slim AS swagger-ui
WORKDIR /src
COPY swagger-ui/package.json swagger-ui/package-lock.json swagger-ui/
COPY swagger-ui/src swagger-ui/src/
COPY scripts/build_swagger_ui.sh scripts/
RUN bash scripts/build_swagger_ui.sh


FROM python:3.11.14-slim-bookworm AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIPENV_VERBOSITY=-1
# The Makefile's PIPENV_VERSION: it turns Pipfile.lock into pip's hash-checked requirements.
RUN pip install "pipenv==2026.10.3"
WORKDIR /src
COPY Pipfile Pipfile.lock ./
# Every locked package with its hashes, and nothing else: the kit is a path (Pipfile installs it editable from
# ./servicekit), which pip cannot hash, and pipenv writes it as `-e ./servicekit` or, while the folder is
# absent as it is here, as a bare `./servicekit`. tests/test_container_files.py runs this command in a folder
# that holds only what this stage holds at this point.
RUN pipenv requirements --hash | grep -e '--hash=' > requirements.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt
# The kit, as a normal (not editable) package: its dependencies are the locked ones just installed.
COPY servicekit/pyproject.toml servicekit/README.md servicekit/
COPY servicekit/src servicekit/src/
RUN /opt/venv/bin/pip install --no-deps ./servicekit \
    && /opt/venv/bin/pip check \
    && python -m compileall -q -f --invalidation-mode unchecked-hash /opt/venv/lib


FROM python:3.11.14-slim-bookworm AS test
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Runs as root: the test scripts install Debian packages and run a local cluster as the postgres user.
# PostgreSQL 15 + PostGIS and its client (pg_basebackup, pg_ctl, psql) serve `make test` without compose too;
# make, curl and git are what the Makefile and the tests call; libatomic1 is what Playwright's own Node.js
# (the driver the browser tests start) links and the slim image lacks.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        make curl git libatomic1 postgresql-15 postgresql-15-postgis-3 postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
# Node 20 for `make install`'s Swagger UI build, from the swagger-ui stage's official image.
COPY --from=swagger-ui /usr/local/bin/node /usr/local/bin/node
COPY --from=swagger-ui /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# What `make install` reads first, so that a change to the code keeps the installed layers.
COPY Makefile Pipfile Pipfile.lock ./
COPY servicekit servicekit/
COPY swagger-ui/package.json swagger-ui/package-lock.json swagger-ui/
COPY swagger-ui/src swagger-ui/src/
COPY scripts/build_swagger_ui.sh scripts/test_tools.sh scripts/install_packages.sh scripts/
# `pipenv sync --dev` into .venv and Swagger UI; then the programs the tests drive (scripts/test_tools.sh).
RUN make install && scripts/test_tools.sh && rm -rf /var/lib/apt/lists/*
# scripts/generate_client.sh's own pinned environment, made here as the script would on first use.
COPY scripts/client-gen/requirements.txt scripts/client-gen/
RUN python3 -m venv scripts/client-gen/.venv \
    && scripts/client-gen/.venv/bin/pip install --quiet -r scripts/client-gen/requirements.txt \
    && touch scripts/client-gen/.venv/.installed
# The stock TypeScript client's tools (tests/test_stock_typescript_client.py), as their lock file pins them.
COPY tests/stock_clients/typescript/package.json tests/stock_clients/typescript/package-lock.json tests/stock_clients/typescript/
RUN make tests/stock_clients/typescript/node_modules/.installed-from-lock
# axe-core, which the browser tests inject into /ui/, as its lock file pins it.
COPY tests/browser/package.json tests/browser/package-lock.json tests/browser/
RUN make tests/browser/node_modules/.installed-from-lock
# The rest of the checkout (.dockerignore keeps .env, var/, .git, .venv, node_modules and builds out).
COPY . .
# What the installs above made is current: the files they were made from were copied again, unchanged
# (make --touch only marks its targets so, should the copy have given them newer times). What asks git (the
# Makefile, the tests) finds a repository of the image's own, the checkout's .git out.
RUN make --touch install tests/stock_clients/typescript/node_modules/.installed-from-lock \
        tests/browser/node_modules/.installed-from-lock && git init --quiet
CMD ["make", "test"]


FROM python:3.11.14-slim-bookworm AS runtime
# Bytecode is compiled at build time and never written at run time: the root filesystem may be read-only,
# and the service writes only under /tmp (LOCAL_FILES_DIR: the dev login's key, when ENVIRONMENT=local).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    LOCAL_FILES_DIR=/tmp
RUN groupadd --gid 10001 directmail \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin directmail
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Only what the service runs: never tests/, var/ (the dev signing key) or .env.
COPY run.py config.py api-spec.yml alembic.ini ./
COPY alembic alembic/
COPY app app/
COPY --from=swagger-ui /src/swagger-ui/build swagger-ui/build/
RUN python -m compileall -q --invalidation-mode unchecked-hash /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]
ENTRYPOINT ["python", "run.py"]
CMD ["serve"]

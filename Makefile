# Directmail: `make run` serves it, `make test` proves it. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
PIPENV_VERSION := 2026.10.3
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
VENV := $(CURDIR)/.venv
INSTALLED := $(VENV)/.installed-from-lock
SPEC_LINT := scripts/lint-spec/node_modules/.installed-from-lock
STOCK_TS := tests/stock_clients/typescript/node_modules/.installed-from-lock
AXE := tests/browser/node_modules/.installed-from-lock
SWAGGER_UI := swagger-ui/build/.built
# The service the kit's docs site includes its how-to code from (servicekit/mkdocs.yml).
DOCS_EXAMPLE := examples/outage-notices

# The image CI builds and pushes: tagged by commit, and by VERSION (the git tag) on a release.
IMAGE ?= $(or $(CI_REGISTRY_IMAGE),registry.gitlab.com/gigaclear/directmail)
COMMIT ?= $(or $(CI_COMMIT_SHORT_SHA),$(shell git rev-parse --short=8 HEAD))
VERSION ?= $(CI_COMMIT_TAG)
# Where `make kit` builds the kit's wheel, and the tag `make kit-publish` publishes it for (servicekit-vX.Y.Z).
DIST ?= dist
KIT_TAG ?= $(CI_COMMIT_TAG)
# Where `make test` writes JUnit and Cobertura reports when asked (CI: REPORTS=reports).
REPORTS ?=
reports = $(if $(REPORTS),--junitxml=$(abspath $(REPORTS))/$(1).xml --cov=$(2) --cov-report=term --cov-report=xml:$(abspath $(REPORTS))/$(1)-coverage.xml)

.PHONY: help install run test deps-latest qa docs format lint types spec containers manifests shell ci-config template-drift \
	template-drift-record audit fuzz bench \
	image-check compose-check compose-up compose-down rehearse template-check kit kit-publish client client-wheel image push release-notes release swagger-ui-upgrade clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The kit is installed editable from ./servicekit: its code is live, its metadata (entry points,
# dependencies) is read at install time.
$(INSTALLED): Pipfile.lock servicekit/pyproject.toml
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "pipenv==$(PIPENV_VERSION)"
	$(PYTHON) -m pipenv sync --dev
	$(PYTHON) -m pipenv clean  # what the lock no longer holds (a renamed package, a dropped one) goes
	@touch $@

# The OpenAPI linter, from the npm registry, as its lock file pins it.
$(SPEC_LINT): scripts/lint-spec/package-lock.json
	npm ci --prefix scripts/lint-spec --no-audit --no-fund --loglevel=error
	@touch $@

# The TypeScript client's generator, runtime and compiler another team would use, as their lock file pins them
# (tests/test_stock_typescript_client.py).
$(STOCK_TS): tests/stock_clients/typescript/package-lock.json
	npm ci --prefix tests/stock_clients/typescript --no-audit --no-fund --loglevel=error
	@touch $@

# axe-core, which the browser tests inject into /ui/ to check its accessibility, as its lock file pins it.
$(AXE): tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	@touch $@

# Swagger UI as /ui serves it: swagger-ui-dist from the npm registry, as its lock file pins it, and ours.
$(SWAGGER_UI): swagger-ui/package-lock.json $(wildcard swagger-ui/src/*)
	scripts/build_swagger_ui.sh

install: $(INSTALLED) $(SWAGGER_UI) ## install the locked dependencies and the kit into .venv, build Swagger UI (the other targets do it for you)

# The service's own default is the strictest environment; `make run` is a developer's machine.
run: export ENVIRONMENT ?= local
run: $(INSTALLED) $(SWAGGER_UI) ## migrate (embedded SQLite unless DATABASE_URL is set), seed demo data once, serve on :8080
	$(VENV)/bin/python run.py migrate
	$(VENV)/bin/python run.py seed-demo --premises 20000 --if-empty
	$(VENV)/bin/python run.py serve

test: $(INSTALLED) $(SWAGGER_UI) $(STOCK_TS) $(AXE) ## prepare Chromium, curl, jq and psql, PostgreSQL + PostGIS and its streaming replica; run the kit's, Directmail's and the docs example's suites
	scripts/test_tools.sh
	scripts/test_database.sh
	scripts/test_replica.sh
	cd servicekit && $(VENV)/bin/pytest $(call reports,servicekit,servicekit)
	$(VENV)/bin/pytest $(call reports,directmail,app)
	cd $(DOCS_EXAMPLE) && $(VENV)/bin/pytest $(call reports,outage-notices,app)

# Not the locked releases: the newest, the kit's upper bounds ignored, in a scratch virtualenv of its own
# (scripts/deps_latest.py says why). CI runs it on a schedule.
deps-latest: ## the kit's suite on the newest release of every library it uses (ARGS: pytest's)
	scripts/test_tools.sh
	scripts/test_database.sh
	scripts/test_replica.sh
	$(PYTHON) scripts/deps_latest.py $(ARGS)

# Each check is a target of its own, as CI's lint and audit jobs run them; in the order that fails fastest.
qa: format lint types spec docs containers manifests shell ci-config template-drift audit ## every static check: code, spec, docs, image, compose, manifests, scripts, CI, the template's files, vulnerabilities

format: $(INSTALLED) ## black: the code is formatted
	$(VENV)/bin/black --check .

lint: $(INSTALLED) ## ruff
	$(VENV)/bin/ruff check .

# Each is a project of its own, with its own settings in its own pyproject.toml.
types: $(INSTALLED) ## mypy: Directmail, the kit and the docs example
	$(VENV)/bin/mypy
	cd servicekit && $(VENV)/bin/mypy
	cd $(DOCS_EXAMPLE) && $(VENV)/bin/mypy

spec: $(INSTALLED) $(SPEC_LINT) ## the specs by Redocly's recommended rules; the committed client up to date
	scripts/lint-spec/node_modules/.bin/redocly lint --format stylish --config scripts/lint-spec/redocly.yaml \
		api-spec.yml $(DOCS_EXAMPLE)/api-spec.yml
	scripts/check_client.sh

# Strict: a broken link, a missing snippet file or a reference to a name the kit no longer has fails it.
docs: $(INSTALLED) ## build the kit's docs site into servicekit/site/ (mkdocs-material, mkdocstrings)
	cd servicekit && NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

containers: $(INSTALLED) ## hadolint the Dockerfile; the compose files against the compose specification
	scripts/check_containers.sh

manifests: $(INSTALLED) ## render deploy/'s overlays; validate them against the Kubernetes API's schemas
	scripts/check_manifests.sh

shell: $(INSTALLED) ## shellcheck every script
	$(VENV)/bin/shellcheck scripts/*.sh scripts/compose/*.sh scripts/containers/*.sh

ci-config: $(INSTALLED) ## .gitlab-ci.yml against GitLab's CI schema
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml

template-drift: $(INSTALLED) ## Directmail's template-owned files against the template rendered with its answers, but for its recorded deviations
	$(VENV)/bin/python -m scripts.template_drift check

# WHY is read from the environment make gives the recipe, so that any quote in it arrives as written.
template-drift-record: $(INSTALLED) ## record FILES' differences from the template as deliberate: FILES='Makefile ...' WHY='the reason'
	$(VENV)/bin/python -m scripts.template_drift record $(FILES) $(if $(WHY),--why "$$WHY")

audit: $(INSTALLED) ## known vulnerabilities in the locked packages (pip-audit)
	scripts/audit.sh

# The image and the compose files run, not only read: on a Docker engine where one answers (GitLab CI), else on
# podman, installed when missing, with stand-ins for the base images no registry here gives (README: Containers).
image-check: $(INSTALLED) ## build the runtime image and run it as deploy/ does: locked down, migrated, probed, a download, SIGTERM mid-download
	$(VENV)/bin/python -m scripts.containers.image_check

compose-check: $(INSTALLED) ## docker-compose.yml up and the README's curl against it; SUITE=1: make test in docker-compose.test.yml too
	$(VENV)/bin/python -m scripts.containers.compose_check $(if $(SUITE),--suite)

# `docker compose up --build -d` and `down` for docker-compose.yml, where there is no Docker engine.
compose-up: $(INSTALLED) ## bring docker-compose.yml's stack up and leave it serving on :8080 (podman where no Docker engine)
	$(VENV)/bin/python -m scripts.containers.compose_check up

compose-down: $(INSTALLED) ## take docker-compose.yml's stack down, its database volume too
	$(VENV)/bin/python -m scripts.containers.compose_check down

rehearse: $(INSTALLED) ## three containers behind HAProxy under load: a rolling restart, then a replica outage (docs/operations.md)
	$(VENV)/bin/python -m scripts.containers.rehearse

# Another runner than the tests': schemathesis's own CLI against a service already running at URL.
fuzz: $(INSTALLED) ## fuzz a running service from its spec: `make run`'s with a dev token; else FUZZ_TOKEN=<token> make fuzz URL=<its URL>
	scripts/fuzz_live.sh $(or $(URL),http://127.0.0.1:8080)

bench: $(INSTALLED) $(SWAGGER_UI) ## measure the service beside reference figures taken in the same run
	scripts/test_tools.sh
	scripts/test_database.sh
	cd servicekit && $(VENV)/bin/python -m benchmarks.probes
	PYTHONPATH=. $(VENV)/bin/python -m scripts.bench

client: ## regenerate clients/directmail-client from api-spec.yml (openapi-python-client, its own pinned environment)
	scripts/generate_client.sh api-spec.yml client-gen-config.json clients/directmail-client clients/templates

swagger-ui-upgrade: ## move Swagger UI to the newest swagger-ui-dist 5.x (commit swagger-ui/package*.json)
	npm --prefix swagger-ui install --save-exact --no-audit --no-fund swagger-ui-dist@5
	scripts/build_swagger_ui.sh

# A new service as a user gets one: from the kit's wheel on a loopback index standing in for the package
# registry, and this working tree's template (uncommitted changes too); scripts/template_check.py says how.
template-check: $(INSTALLED) ## generate a service from the template; its make test and make qa, and a service without a database's make test
	$(VENV)/bin/python -m scripts.template_check $(if $(QA),--qa "$(QA)")

kit: $(INSTALLED) ## build the servicekit wheel into dist/ (CI publishes it)
	$(VENV)/bin/pip wheel --quiet --no-deps --wheel-dir $(DIST) ./servicekit
	@ls $(DIST)/gigaclear_servicekit-*.whl

# To the project's package registry, by GitLab's PyPI API with the job's own token (servicekit/README.md: Install).
# The guard refuses a tag whose version is not the kit's, or has no section in the kit's changelog.
kit-publish: $(INSTALLED) ## in GitLab CI on a servicekit-vX.Y.Z tag: upload the wheel `make kit` built to the package registry
	wheel=$$($(VENV)/bin/python -m scripts.kit_release wheel "$(KIT_TAG)" "$(DIST)") && \
	TWINE_USERNAME=gitlab-ci-token TWINE_PASSWORD="$${CI_JOB_TOKEN:?is not set: make kit-publish runs in GitLab CI}" \
	TWINE_REPOSITORY_URL="$${CI_API_V4_URL:?is not set}/projects/$${CI_PROJECT_ID:?is not set}/packages/pypi" \
	$(VENV)/bin/twine upload --non-interactive --disable-progress-bar "$$wheel"

client-wheel: $(INSTALLED) ## build the generated client's wheel into dist/ (CI publishes it)
	$(VENV)/bin/pip wheel --quiet --no-deps --wheel-dir dist ./clients/directmail-client
	@ls dist/directmail_client-*.whl

image: ## build the runtime image, tagged IMAGE:<commit> and IMAGE:VERSION when set (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "make image: no Docker engine here; make containers checks the Dockerfile without one" >&2; exit 1; }
	docker build --pull --target runtime --tag $(IMAGE):$(COMMIT) $(if $(VERSION),--tag $(IMAGE):$(VERSION)) .

push: image ## push the image's tags (in CI, to the project's registry with the job's credentials)
	@if [ -n "$$CI_REGISTRY" ]; then echo "$$CI_REGISTRY_PASSWORD" | docker login --username "$$CI_REGISTRY_USER" --password-stdin "$$CI_REGISTRY"; fi
	docker push $(IMAGE):$(COMMIT)
	$(if $(VERSION),docker push $(IMAGE):$(VERSION))

release-notes: $(INSTALLED) ## print VERSION's section of CHANGELOG.md: make release-notes VERSION=1.2.0
	$(VENV)/bin/python -m scripts.release notes "$(VERSION)"

release: $(INSTALLED) ## in GitLab CI on a tag: the release for VERSION, its notes from CHANGELOG.md
	$(VENV)/bin/python -m scripts.release publish "$(VERSION)"

clean: ## remove the virtualenv, the embedded database, built wheels and the npm installs
	rm -rf $(VENV) .deps-latest var dist servicekit/site swagger-ui/build swagger-ui/node_modules scripts/lint-spec/node_modules \
		tests/stock_clients/typescript/node_modules tests/browser/node_modules scripts/client-gen/.venv

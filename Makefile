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
SWAGGER_UI := swagger-ui/build/.built
EXAMPLE := examples/minimal-service

.PHONY: help install run test qa fuzz bench kit client swagger-ui-upgrade clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

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

test: $(INSTALLED) $(SWAGGER_UI) ## prepare PostgreSQL + PostGIS, its streaming replica and Chromium; run the kit's, Directmail's and the example's suites
	scripts/test_database.sh
	scripts/test_replica.sh
	scripts/test_browser.sh
	cd servicekit && $(VENV)/bin/pytest
	$(VENV)/bin/pytest
	cd $(EXAMPLE) && $(VENV)/bin/pytest

qa: $(INSTALLED) $(SPEC_LINT) ## formatting, lint, types, the spec's lint and known vulnerabilities
	scripts/qa_commands.sh

# Another runner than the tests': schemathesis's own CLI against a service already running at URL.
fuzz: $(INSTALLED) ## fuzz a running service from its spec: FUZZ_TOKEN=<token> make fuzz URL=<its URL, default :8080>
	scripts/fuzz_live.sh $(or $(URL),http://127.0.0.1:8080)

bench: $(INSTALLED) $(SWAGGER_UI) ## measure the service beside reference figures taken in the same run
	scripts/test_database.sh
	cd servicekit && $(VENV)/bin/python -m benchmarks.probes
	PYTHONPATH=. $(VENV)/bin/python -m scripts.bench

client: ## regenerate clients/directmail-client from api-spec.yml (openapi-python-client, its own pinned environment)
	scripts/generate_client.sh api-spec.yml client-gen-config.json clients/directmail-client clients/templates

swagger-ui-upgrade: ## move Swagger UI to the newest swagger-ui-dist 5.x (commit swagger-ui/package*.json)
	npm --prefix swagger-ui install --save-exact --no-audit --no-fund swagger-ui-dist@5
	scripts/build_swagger_ui.sh

kit: $(INSTALLED) ## build the servicekit wheel into dist/ (CI publishes it)
	$(VENV)/bin/pip wheel --quiet --no-deps --wheel-dir dist ./servicekit
	@ls dist/gigaclear_servicekit-*.whl

clean: ## remove the virtualenv, the embedded database, built wheels and the npm installs
	rm -rf $(VENV) var dist swagger-ui/build swagger-ui/node_modules scripts/lint-spec/node_modules scripts/client-gen/.venv

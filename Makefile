# tonewatch: the two set-up commands are `make demo` and `make test`.
# Both create (or reuse) ./.venv and install what they need.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SHARED_FEEDS := $(wildcard ../shared/real_feeds/*.xml)
DEMO_FEEDS ?= tests/fixtures/feeds/* $(if $(SHARED_FEEDS),../shared/real_feeds/*.xml,)
PORT ?= 8501

.PHONY: demo test install model model-upgrade run dashboard clean-data help airflow images stack-test

help:
	@echo "make demo   - a quick first model if none, one pipeline run, the dashboard; the full model builds behind it"
	@echo "make test   - run the whole test suite"
	@echo "make airflow - Airflow standalone (scheduler, UI on :$(AIRFLOW_PORT)) with ./dags and ./.airflow"
	@echo "make images - build the container images of docker/ (needs Docker with buildx and compose v2)"
	@echo "make stack-test - bring the compose stack up, run tonewatch_daily through it, tear it down"

$(STAMP): pyproject.toml
	@echo "== installing tonewatch and its dependencies into $(VENV) (a few minutes on a first run; pip shows each download)"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# The quick first model (minutes on any CPU); `model-upgrade` builds the full one behind it.
model: install
	@echo "== the default model"
	$(BIN)/tonewatch model ensure-default --quick

model-upgrade: install
	$(BIN)/tonewatch model upgrade --detach

run: model
	@echo "== fetching, scoring and detecting over the demo feeds"
	$(BIN)/tonewatch run --feeds $(foreach f,$(DEMO_FEEDS),'$(f)')
	@echo "== replaying detection over every day of the stored articles"
	$(BIN)/tonewatch detect --backfill

demo: run model-upgrade
	@echo "== the dashboard: http://localhost:$(PORT)/  (Ctrl-C stops it; the model build goes on)"
	@echo "   look first at: Overview (the March 2026 surge), Alerts (what fired and why),"
	@echo "   Model (which model scores now; the full model's build, progress and ETA)"
	@$(MAKE) --no-print-directory dashboard

dashboard: install
	$(BIN)/tonewatch dashboard --port $(PORT)

test: install
	AIRFLOW__CORE__LOAD_EXAMPLES=False $(BIN)/python -m pytest -q

# Airflow 3 all-in-one for a laptop: metadata DB (SQLite) and logs in ./.airflow (gitignored),
# DAGs from ./dags, the one-slot pool DuckDB writers need, tonewatch settings as absolute paths
# (task processes must not depend on their working directory), the venv first on PATH
# (standalone starts `airflow scheduler` etc. by name). DAGs start paused.
AIRFLOW_HOME ?= $(CURDIR)/.airflow
AIRFLOW_PORT ?= 8080
# LocalExecutor starts this many worker processes up front (~130 MB each); Airflow's default is
# 32, while tonewatch's writers take turns in a one-slot pool anyway.
AIRFLOW_PARALLELISM ?= 4
TONEWATCH_DUCKDB_POOL ?= tonewatch_duckdb
AIRFLOW_ENV := PATH=$(abspath $(BIN)):$$PATH \
	AIRFLOW_HOME=$(AIRFLOW_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=$(AIRFLOW_PARALLELISM) \
	AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
	AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://localhost:$(AIRFLOW_PORT)/execution/ \
	TONEWATCH_DUCKDB_POOL=$(TONEWATCH_DUCKDB_POOL) \
	TONEWATCH_DATA_DIR=$(or $(TONEWATCH_DATA_DIR),$(CURDIR)/data) \
	TONEWATCH_MODEL_REGISTRY=$(or $(TONEWATCH_MODEL_REGISTRY),$(CURDIR)/models/registry)

airflow: model model-upgrade
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate > /dev/null
	$(if $(TONEWATCH_DUCKDB_POOL),$(AIRFLOW_ENV) $(BIN)/airflow pools set $(TONEWATCH_DUCKDB_POOL) 1 "DuckDB single writer")
	@echo "Airflow UI: http://localhost:$(AIRFLOW_PORT)/  user admin, password printed below by"
	@echo "'airflow standalone' and kept in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"
	@echo "CLI in another shell: export AIRFLOW_HOME=$(AIRFLOW_HOME); $(BIN)/airflow dags unpause tonewatch_daily"
	$(AIRFLOW_ENV) exec $(BIN)/airflow standalone

clean-data:
	rm -rf data

# Container images and the compose stack test (docker/README.md). Not part of `make test`: they
# need a Docker engine, root for the base-image stand-ins, and tens of minutes.
images:
	docker/build-images.sh

stack-test: install
	$(BIN)/python -m tests.stack.run

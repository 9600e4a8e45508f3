# tonewatch: the two set-up commands are `make demo` and `make test`.
# Both create (or reuse) ./.venv and install what they need.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SHARED_FEEDS := $(wildcard ../shared/real_feeds/*.xml)
DEMO_FEEDS ?= tests/fixtures/feeds/* $(if $(SHARED_FEEDS),../shared/real_feeds/*.xml,)
PORT ?= 8501

.PHONY: demo test install model run dashboard clean-data help

help:
	@echo "make demo   - build the default model if missing, run the pipeline once, serve the dashboard"
	@echo "make test   - run the whole test suite"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

model: install
	$(BIN)/tonewatch model ensure-default

run: model
	$(BIN)/tonewatch run --feeds $(foreach f,$(DEMO_FEEDS),'$(f)')
	$(BIN)/tonewatch detect --backfill

demo: run dashboard

dashboard: install
	$(BIN)/tonewatch dashboard --port $(PORT)

test: install
	AIRFLOW__CORE__LOAD_EXAMPLES=False $(BIN)/python -m pytest -q

clean-data:
	rm -rf data

# Telecentre Controller — the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed
PYTEST_ARGS ?=

.PHONY: help demo test bench lint format translations venv clean

help:
	@echo "make demo          set up .venv, the database and demo data, and run the controller"
	@echo "make test          set up and run every test"
	@echo "make bench         run the benchmarks, write bench/results.json"
	@echo "make lint          ruff check and format check, ansible-lint (production profile)"
	@echo "make translations  re-extract messages, update and compile the catalogues"

$(VENV)/bin/python:
	@scripts/system-deps.sh demo
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(RUNTIME_STAMP)

venv: $(DEV_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/telecentre demo

test: $(DEV_STAMP)
	@scripts/system-deps.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	@scripts/system-deps.sh bench
	$(PY) bench/run.py

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd ansible && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_INVENTORY=inventory/hosts.yml ansible-lint --offline

format: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

translations: $(DEV_STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _l --no-wrap --sort-by-file \
		--project="Telecentre Controller" -o controller/translations/messages.pot .
	$(VENV)/bin/pybabel -q update --no-wrap -i controller/translations/messages.pot \
		-d controller/translations
	$(VENV)/bin/pybabel -q compile -d controller/translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

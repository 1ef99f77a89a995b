PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Two stamps: running needs requirements.txt only; the developer targets add
# requirements-dev.txt on top. Each stamp is remade only when its file changes,
# so `make run`, `make test`, `make run` installs each set once.
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: install install-dev run test test-hosts test-model seed bench bench-quick eval lint up

install: $(RUNTIME)

install-dev: $(DEV)

$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

run: install
	$(PY) -m services run

test: install-dev
	$(PY) -m pytest

test-hosts: install-dev
	$(PY) -m pytest -m hosts -p no:cacheprovider tests/hosts

test-model: install-dev
	$(PY) -m pip install --quiet -r requirements-model.txt
	$(PY) -m pytest -m model

seed: install
	$(PY) -m seeds.load

bench: install-dev
	$(PY) -m bench

bench-quick: install-dev
	$(PY) -m bench --quick

eval: install-dev
	$(PY) -m bench.eval

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy
	promtool check config monitoring/prometheus.yml
	promtool check rules monitoring/alerts.yml

up:
	docker compose up --build

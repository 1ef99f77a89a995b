PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test test-model seed bench bench-quick eval lint up

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

run: install
	$(PY) -m services run

test: install
	$(PY) -m pytest

test-model: install
	$(PY) -m pip install --quiet -r requirements-model.txt
	$(PY) -m pytest -m model

seed: install
	$(PY) -m seeds.load

bench: install
	$(PY) -m bench

bench-quick: install
	$(PY) -m bench --quick

eval: install
	$(PY) -m bench.eval

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy
	promtool check config monitoring/prometheus.yml
	promtool check rules monitoring/alerts.yml

up:
	docker compose up --build

# `make run` and `make test` bootstrap their own virtual environment.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CASEFLOW_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test lint translations install clean bench wheel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations

# Catalogs are compiled from the committed .po files as part of every build.
translations: $(STAMP)
	@for area in caseflow/translations/*/; do $(BIN)/pybabel compile -d "$$area" -D messages 2>&1 | grep -v "^compiling" ; test $${PIPESTATUS[0]} -eq 0 || exit 1; done

run: install
	$(BIN)/caseflow db upgrade heads
	@if [ ! -f "$(CASEFLOW_INSTANCE_PATH)/.demo-seeded" ]; then \
		$(BIN)/caseflow seed-demo && touch "$(CASEFLOW_INSTANCE_PATH)/.demo-seeded"; \
	else \
		echo "Demo data already seeded. Logins: admin, manajer, auditor, supervisor, pendamping, pendamping2, supervisor.ntt, pendamping.ntt — password Demo-Caseflow-2026"; \
	fi
	@echo "Caseflow is serving on http://127.0.0.1:5000 (with a task worker beside it)"
	@CASEFLOW_INSECURE_COOKIES=1 $(BIN)/caseflow worker --workers 1 > "$(CASEFLOW_INSTANCE_PATH)/worker.log" 2>&1 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	CASEFLOW_INSECURE_COOKIES=1 $(BIN)/caseflow run --host 127.0.0.1 --port 5000

# One pytest worker per core (pytest-xdist): each builds its own app and private databases
# (tests/support/apps.py), so workers never meet. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check caseflow tests bench

bench: install
	$(BIN)/python bench/transitions.py

# The wheel an installation uses (templates, workflows, migrations and compiled catalogs inside).
wheel: $(STAMP)
	$(BIN)/pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache build dist

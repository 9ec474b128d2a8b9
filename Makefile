# iamviz: `make run` serves the dashboard on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint format bench bench-review bench-load worker beat

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/python manage.py migrate --no-input
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py setup_demo
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The import benchmarks, then the daily review's (history of two analyses and the Changes page).
bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/review.py $(REVIEW_ARGS)

bench-review: setup
	$(BIN)/python bench/review.py $(REVIEW_ARGS)

# Load test (locust, the `bench` extra): 20 viewers against gunicorn + PostgreSQL for 2 minutes.
bench-load: setup
	$(BIN)/python -c "import locust" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/load.py $(LOAD_ARGS)

# One worker on the three queues (housekeeping: the reaper; sync: syncs and imports; analysis).
# In production run one worker per queue (docker/compose.yaml), so the reaper never waits behind
# an analysis: make worker QUEUES=analysis
QUEUES ?= housekeeping,sync,analysis
worker: setup
	$(BIN)/celery -A iamviz worker --loglevel INFO -Q $(QUEUES)

beat: setup
	$(BIN)/celery -A iamviz beat --loglevel INFO

# Two commands matter: `make run` (the app with demo data on embedded defaults) and `make test`.
# Both create the virtualenv and install pinned requirements first. Set DATABASE_URL / REDIS_URL to
# use PostgreSQL and Redis instead of SQLite and the file-system broker.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test install install-dev migrate seed lint bench clean messages

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py seed_demo_collection
	$(BIN)/python manage.py seed_demo_legal

## run: set up, migrate, seed demo data if the database is empty, start web + worker + beat
run: seed
	@echo ""
	@echo "  Huishou is starting at http://$${HOST:-127.0.0.1}:$${PORT:-8000}/  (Ctrl-C stops everything)"
	@echo ""
	$(BIN)/honcho -f Procfile.dev start

## test: set up and run the whole suite (lint, checks, tests)
test: install-dev
	$(BIN)/ruff check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

messages: install-dev
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

bench: install-dev
	$(BIN)/python bench/seed_demo.py --loans $${LOANS:-100000}

clean:
	rm -rf var staticfiles .pytest_cache

# Two commands matter: `make run` (the app with demo data on embedded defaults) and `make test`.
# Both create the virtualenv and install pinned requirements first. PostgreSQL is the one engine: with
# DATABASE_URL unset they run under a private server from a pip wheel (core/localdb.py; its data in
# var/postgres, the tests' in a throwaway cluster). Set DATABASE_URL / REDIS_URL to use your servers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
# Runs a command with DATABASE_URL set: as it is, or against the private server started for it.
WITH_DB := $(BIN)/python -m core.localdb --
WITH_TEST_DB := $(BIN)/python -m core.localdb --throwaway --

.PHONY: run test install install-dev migrate seed lint bench clean reset messages

$(VENV)/.runtime: requirements.txt requirements-local.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-local.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

migrate: install
	$(WITH_DB) $(BIN)/python manage.py migrate --noinput

seed: install
	$(WITH_DB) sh -c "python manage.py migrate --noinput && python manage.py seed_demo --if-empty \
		&& python manage.py seed_demo_collection && python manage.py seed_demo_legal"

## run: set up, migrate, seed demo data if the database is empty, start web + worker + beat
run: seed
	@echo ""
	@echo "  Huishou is starting at http://$${HOST:-127.0.0.1}:$${PORT:-8000}/  (Ctrl-C stops everything)"
	@echo ""
	@# honcho sets each process's PORT, counting from --port (its own default would be 5000)
	$(WITH_DB) $(BIN)/honcho -f Procfile.dev start --port $${PORT:-8000}

## test: set up and run the whole suite (lint, checks, tests)
test: install-dev
	$(BIN)/ruff check .
	$(WITH_TEST_DB) sh -c "DJANGO_SETTINGS_MODULE=config.settings.test python manage.py check \
		&& DJANGO_SETTINGS_MODULE=config.settings.test python manage.py makemigrations --check --dry-run \
		&& pytest $(PYTEST_ARGS)"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

messages: install-dev
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

bench: install-dev
	$(WITH_DB) $(BIN)/python bench/seed_demo.py --loans $${LOANS:-100000}

## reset: delete the private server's data and every other runtime file (var/): the next `make run`
## starts from nothing. Refused while a `make run` is using the server.
reset: install
	$(BIN)/python -m core.localdb --reset

clean: reset
	rm -rf staticfiles .pytest_cache

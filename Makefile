# mapaid: `make run` to try it, `make test` for the whole suite. Only python3.11 and make are assumed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 5000
DEMO_POSTS ?= 2000

.PHONY: run test lint types bench install install-test browser spreadsheet clean translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser spreadsheet

# Debian's Chromium (Playwright drives it; its own browser download needs the internet).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's LibreOffice Calc without a GUI: a real spreadsheet opens our CSV exports in the tests.
spreadsheet:
	@command -v soffice >/dev/null 2>&1 || { \
	  echo "installing Debian's libreoffice-calc-nogui for the spreadsheet tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null; }

run: install
	$(VENV)/bin/mapaid init-db
	$(VENV)/bin/mapaid demo --posts $(DEMO_POSTS) --seed 2020 --if-empty
	$(VENV)/bin/mapaid serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check mapaid tests bench

types: $(VENV)/.installed-test
	$(VENV)/bin/mypy

# Two workers (pytest-xdist), a test module per worker at a time so a module's server and data are made once.
# A single file runs as before: .venv/bin/pytest -q tests/test_x.py
test: install-test lint types
	$(VENV)/bin/pytest -q -n 2 --dist loadfile

bench: install-test
	$(PY) -m bench

# After changing user-facing text: refresh the catalogues, translate the new entries, compile (.mo committed).
translations: $(VENV)/.installed-test
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --omit-header -o mapaid/translations/messages.pot .
	$(VENV)/bin/pybabel update -i mapaid/translations/messages.pot -d mapaid/translations --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d mapaid/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

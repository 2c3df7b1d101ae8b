# mapaid: `make run` to try it, `make test` for the whole suite. Only python3.11 and make are assumed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 5000
DEMO_POSTS ?= 2000

.PHONY: run test test-durations lint types bench load install install-test browser spreadsheet gdal proxy clean translations pygeoapi-peer

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser spreadsheet gdal proxy

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

# Debian's GDAL 3.6 command line and Python samples: the export tests open our files with another GDAL than
# pyogrio's, and run its validate_gpkg.py on our GeoPackages.
gdal:
	@{ command -v ogrinfo >/dev/null 2>&1 && test -f /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py; } || { \
	  echo "installing Debian's gdal-bin and python3-gdal for the export tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin python3-gdal >/dev/null; }

# Debian's nginx and Caddy: tests/test_proxy.py starts docs/nginx/mapaid.conf in front of two mapaid
# servers and has Caddy validate docs/caddy/Caddyfile (neither service is started by the install here).
proxy:
	@{ command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; } && command -v caddy >/dev/null 2>&1 || { \
	  echo "installing Debian's nginx-light and caddy for the reverse-proxy tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light caddy >/dev/null; }

run: install
	$(VENV)/bin/mapaid init-db
	$(VENV)/bin/mapaid demo --posts $(DEMO_POSTS) --seed 2020 --if-empty
	$(VENV)/bin/mapaid network build geodata/minsk-pass.osm.bz2 --if-changed
	$(VENV)/bin/mapaid serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check mapaid tests bench

types: $(VENV)/.installed-test
	$(VENV)/bin/mypy

# Every test that touches the store runs on SQLite and on PostGIS: scripts/pgtest installs Debian's
# PostgreSQL + PostGIS where missing, starts a throwaway cluster on a free loopback port for the run (its
# URL in MAPAID_TEST_POSTGRES) and deletes it afterwards, pass or fail. Four workers (pytest-xdist) on two
# cores: the suite spends half its time waiting (browsers, servers starting, 60 s of load), so two workers
# left a core idle. --dist loadscope hands a worker a module's tests on one store at a time, so their
# server and data are made once, the longest first by tests/durations.json (tests/schedule.py; refresh
# it with `make test-durations` when modules change much). By hand: scripts/pgcluster start /tmp/pg-mine
# 55433, export MAPAID_TEST_POSTGRES=<the URL it prints>, then .venv/bin/pytest -q tests/test_x.py
PYTEST_PARALLEL = -n 4 --dist loadscope
test: install-test lint types
	scripts/pgtest $(VENV)/bin/pytest -q $(PYTEST_PARALLEL)

test-durations: install-test
	scripts/pgtest $(VENV)/bin/pytest -q $(PYTEST_PARALLEL) --record-durations

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(PIP) install --quiet -e '.[bench]' || echo "pandana did not install: bench_network reports it and goes on"
	touch $@

$(VENV)/.installed-load: $(VENV)/.installed-test
	$(PIP) install --quiet -e '.[load]'
	touch $@

# bench_stores and bench_load start their own PostgreSQL (scripts/pgcluster installs Debian's packages).
bench: install-test $(VENV)/.installed-bench $(VENV)/.installed-load pygeoapi-peer
	$(PY) -m bench

# The locust load test alone (about 8 minutes; `make bench` runs it too).
load: install-test $(VENV)/.installed-load
	$(PY) -m bench bench_load

# The peer of bench/bench_ogcapi.py: pygeoapi in a venv of its own, on Debian's python3.11 (its sqlite3
# may load extensions, which pygeoapi's GeoPackage provider needs) with Debian's SpatiaLite.
.venv-pygeoapi/.installed: bench/pygeoapi-peer.txt
	@test -e /usr/lib/x86_64-linux-gnu/mod_spatialite.so || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-mod-spatialite >/dev/null; }
	/usr/bin/python3.11 -m venv .venv-pygeoapi
	.venv-pygeoapi/bin/pip install --quiet -r bench/pygeoapi-peer.txt
	touch $@

pygeoapi-peer: .venv-pygeoapi/.installed

# After changing user-facing text: refresh the catalogues, translate the new entries, compile (.mo committed).
translations: $(VENV)/.installed-test
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --omit-header -o mapaid/translations/messages.pot .
	$(VENV)/bin/pybabel update -i mapaid/translations/messages.pot -d mapaid/translations --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d mapaid/translations

clean:
	rm -rf $(VENV) .venv-pygeoapi .pytest_cache .mypy_cache .ruff_cache

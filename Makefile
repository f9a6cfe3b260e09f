# Two commands on a fresh machine (see README):
#   make app    set up, build the DB from the default source if there is none, run the app
#   make test   set up (incl. Debian chromium for browser tests) and run the full test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DB     ?= $(or $(THOUGHTTRACE_DB),data/thoughttrace.duckdb)
SOURCE ?= hf
PORT   ?= 8501
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)

.PHONY: setup app db test browser-deps clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

$(DB): | $(STAMP)
	$(PY) -m precompute build --source $(SOURCE) --db $(DB)

db: $(STAMP)
	$(PY) -m precompute build --source $(SOURCE) --db $(DB)

app: $(STAMP) $(DB)
	THOUGHTTRACE_DB=$(DB) $(VENV)/bin/streamlit run app.py --server.port $(PORT) \
		--browser.gatherUsageStats false

browser-deps:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(STAMP) browser-deps
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache

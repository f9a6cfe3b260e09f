# Two commands on a fresh machine (see README):
#   make app    set up, run the app; with no DB yet, build it meanwhile in the background
#               (the app shows the conversations within seconds; see README)
#   make test   set up (incl. Debian chromium and haproxy for the tests), lint, run the suite
# and for a lab: make serve WORKERS=4 PORT=8080 [DB=...]  (N processes behind HAProxy)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DB     ?= $(or $(THOUGHTTRACE_DB),data/thoughttrace.duckdb)
SOURCE ?= hf
PORT   ?= 8501
# `make app` listens on this machine only; HOST=0.0.0.0 opens it to the network (a lab: make serve)
HOST   ?= 127.0.0.1
WORKERS ?= 2
# make serve listens on PORT when given, else on 8080 (so it does not take make app's 8501)
SERVE_PORT = $(if $(filter file,$(origin PORT)),8080,$(PORT))
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)

.PHONY: setup app db serve test browser-deps proxy-deps clean

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

# The app at once. Without a DB file (or with one that a first build published early and
# did not finish) the build runs in the background meanwhile: the app shows the
# conversations as soon as they are ingested (by itself, no reload) and the analyses when
# the build is done. Stopping the app (Ctrl-C) stops the build; the next `make app`
# continues it. A complete DB file is not rebuilt (`make db` does that). SOURCE given on
# the command line or in the environment is passed on; else a first build reads `hf` and
# an unfinished one the source recorded in it.
app: $(STAMP)
	@$(PY) -m precompute build --if-needed --no-progress --db $(DB) \
		$(if $(filter-out file,$(origin SOURCE)),--source $(SOURCE)) & build=$$!; \
	trap 'kill $$build 2>/dev/null; wait $$build' EXIT; trap 'exit 130' INT TERM; \
	THOUGHTTRACE_DB=$(DB) $(VENV)/bin/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--browser.gatherUsageStats false

# N app processes behind HAProxy on PORT (see deploy/README.md)
serve: $(STAMP) $(DB) proxy-deps
	$(PY) deploy/serve.py --workers $(WORKERS) --port $(SERVE_PORT) --db $(DB)

proxy-deps:
	@test -x /usr/sbin/haproxy || command -v haproxy >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq haproxy >/dev/null; }

browser-deps:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(STAMP) browser-deps proxy-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

# Mutation testing (tests/README.md): mutmut mutates the filter, ingest, label and
# share/interval code and reruns, per mutant, the selected tests that call the mutated
# function ([tool.mutmut] in pyproject.toml). Not part of `make test` or CI: it takes
# about an hour and a half on 2 cores for the whole set; MUTANTS='precompute.labels.*' (globs
# of mutant names) runs a part, JOBS=2 two at a time. Results: .venv/bin/mutmut results.
MUTANTS ?= components.filters.* components.stats.* precompute.ingest.* precompute.labels.* \
	components.queries.thoughts.x_with_shares* components.queries.thoughts.x_compute_stage_shares*
.PHONY: mutants
mutants: $(STAMP)
	$(VENV)/bin/mutmut run --max-children $(or $(JOBS),1) $(foreach m,$(MUTANTS),'$(m)')

clean:
	rm -rf $(VENV) .pytest_cache

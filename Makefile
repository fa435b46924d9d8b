# Set-up and the two entry points named in the README:
#   make demo   - create .venv, install the pins, run the offline demo through every stage
#   make test   - create .venv, install the pins, run the test suite
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: setup demo test bench clean-demo chromium

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

demo: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config.demo.yaml

test: setup chromium
	$(BIN)/python -m pytest -q

# The report test renders the Snakemake report in Debian's headless Chromium.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed: the report test will be skipped"; fi; }

bench: setup
	$(BIN)/python bench/corpus_bench.py

clean-demo:
	rm -rf results/demo results/knowledge/demowiki results/logs results/benchmarks

# Set-up and the two entry points named in the README:
#   make demo   - create .venv, install the pins, run the offline demo through every stage
#   make test   - create .venv, install the pins, run the test suite
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: setup demo real test lint bench clean-demo chromium

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# profiles/small-cpu: every job one thread, so that two run side by side on 2 cores.
demo: setup
	$(BIN)/snakemake --cores $(CORES) --profile profiles/small-cpu --configfile config.demo.yaml

# Real data (issue 10): Twitter-2017 + MNRE v2 with real Wikipedia text, about 75 min on 2 cores.
MORE_IE_SHARED_DATA ?= $(abspath ../shared/data)
export MORE_IE_SHARED_DATA
real: setup
	@test -f "$(MORE_IE_SHARED_DATA)/twitter2017/train.txt" -a -f "$(MORE_IE_SHARED_DATA)/wiki_vital/summaries_en-us.json" || { \
	  echo "make real: the real data is not at MORE_IE_SHARED_DATA=$(MORE_IE_SHARED_DATA)"; \
	  echo "  (expected twitter2017/, mnre/, wiki/, wiki_vital/ as in shared/data; set MORE_IE_SHARED_DATA)"; exit 2; }
	$(BIN)/snakemake --cores $(CORES) --profile profiles/small-cpu --configfile config.real.yaml

test: setup chromium lint
	$(BIN)/python -m pytest -q

# Lint (part of `make test`): ruff (check + format), snakefmt, and Snakemake's own lint on both configs.
lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --configfile config.yaml > /dev/null
	$(BIN)/snakemake --lint --configfile config.demo.yaml > /dev/null

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

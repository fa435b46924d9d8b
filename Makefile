# Set-up and the two entry points named in the README:
#   make demo   - create .venv, install the pins, run the offline demo through every stage
#   make test   - create .venv, install the pins, run the test suite
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
# glibc's malloc hands large freed blocks back to the kernel and page-faults them in again on the
# next allocation: a training step's gradients and activations, every step. Keeping them (as
# jemalloc or tcmalloc would) cut an expert job's system time by half and its CPU time by ~5 %
# (bench/RESULTS.md); results are bit-identical. A GLIBC_TUNABLES of your own replaces it.
export GLIBC_TUNABLES ?= glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824

.PHONY: setup demo real real-ner real-re real-student real-data test lint bench clean-demo chromium

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-compile --no-deps --editable .
	$(BIN)/python -c "$$COMPILE_SITE_PACKAGES"
	touch $@

# pip byte-compiles what it installs one file at a time: half of a 2-minute install on 2 cores
# (bench/RESULTS.md). compileall does the same on every core. Like pip, it leaves out the few files
# this Python cannot compile (torch's tests for 3.12 syntax); Python runs those from source.
define COMPILE_SITE_PACKAGES
import compileall, sysconfig
compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=2, workers=0)
endef
export COMPILE_SITE_PACKAGES

# profiles/small-cpu: every job one thread, so that two run side by side on 2 cores.
demo: setup
	$(BIN)/snakemake --cores $(CORES) --profile profiles/small-cpu --configfile config.demo.yaml

# Real data (issues 10 and 20): Twitter-2017 with imported views + MNRE v2 with real Wikipedia text.
# Each split target fits the 90-minute budget on 2 cores; `make real` runs both, then the case
# studies and the summary. Targets go before --configfile (it takes several files).
MORE_IE_SHARED_DATA ?= $(abspath ../shared/data)
export MORE_IE_SHARED_DATA
REAL = $(BIN)/snakemake --cores $(CORES) --profile profiles/small-cpu
REAL_DIR = results/real
real-data:
	@test -f "$(MORE_IE_SHARED_DATA)/twitter2017/train.txt" -a -f "$(MORE_IE_SHARED_DATA)/wiki_vital/summaries_en-us.json" -a -f "$(MORE_IE_SHARED_DATA)/pgim/train.txt" || { \
	  echo "make real: the real data is not at MORE_IE_SHARED_DATA=$(MORE_IE_SHARED_DATA)"; \
	  echo "  (expected twitter2017/, mnre/, wiki/, wiki_vital/, pgim/ as in shared/data; set MORE_IE_SHARED_DATA)"; exit 2; }
real-ner: setup real-data
	$(REAL) $(REAL_DIR)/twitter2017/moe_f1.json --configfile config.real.yaml
real-re: setup real-data
	$(REAL) $(REAL_DIR)/mnre/moe_f1.json --configfile config.real.yaml
real: real-ner real-re
	$(REAL) --configfile config.real.yaml
# The retrieval-free student of Twitter-2017's headline MoE (issue 23): after real-ner.
real-student: setup real-data
	$(REAL) $(REAL_DIR)/twitter2017/student/summary.json --configfile config.real.yaml

# Two pytest-xdist workers: the tiny-DAG tests (one group, tests/conftest.py XDIST_GROUPS) on one,
# the SLURM module and the rest on the other, so that single-threaded tests and SLURM's waits fill
# the cores the DAG jobs leave idle. `pytest tests/...` alone still runs in one process.
TEST_WORKERS ?= 2
test: setup chromium lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope

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

# Everything `make demo` writes (config.demo.yaml's results_dir is results/), so that the next
# `make demo` starts from nothing; results/real and other results folders are kept.
clean-demo:
	rm -rf results/demo results/demo_mner results/demo_mnre results/knowledge/demowiki \
	  results/index/demowiki results/logs results/benchmarks results/plots results/summary.csv \
	  results/summary.html results/summary.md

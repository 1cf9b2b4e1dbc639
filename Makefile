# visualstreams: `make demo` (set up, get the data, run the notebook's experiment) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Pinned first so pip takes the CPU wheel and never resolves torch to a multi-GB CUDA build.
# Elsewhere: make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: setup data demo test test-all lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Find Fashion-MNIST (env, cache, Debian package) or download it; as root on Debian, install the package.
data: setup
	@$(BIN)/visualstreams data fetch --no-download 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }; } && \
	    $(BIN)/visualstreams data fetch --no-download; } || \
	  $(BIN)/visualstreams data fetch

demo: data
	$(BIN)/visualstreams compare --species human marmoset mouse --out $(DEMO_OUT) --overwrite

test: setup
	$(BIN)/pytest -q -m "not slow"

test-all: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports

bench: data
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) runs .pytest_cache
